//! The Node-API layer: converts arguments, maps each core error to a JavaScript
//! error with a stable `code`, and nothing else. The TypeScript wrapper in
//! `ts/hdr/` is the public face; this class is its engine.

use napi::bindgen_prelude::{Float64ArraySlice, Uint8Array, Uint8ArraySlice};
use napi::{Error, Result};
use napi_derive::napi;

use crate::recorder::{Bounds, Recorder};

/// Stable error codes, also defined for JavaScript callers in `ts/hdr/errors.ts`.
const ERR_BOUNDS: &str = "ERR_HDR_BOUNDS";
const ERR_VALUE: &str = "ERR_HDR_VALUE";
const ERR_PERCENTILE: &str = "ERR_HDR_PERCENTILE";
const ERR_DECODE: &str = "ERR_HDR_DECODE";

fn error(code: &'static str, message: impl ToString) -> Error<&'static str> {
    Error::new(code, message.to_string())
}

fn whole(name: &str, v: f64) -> std::result::Result<u64, Error<&'static str>> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        Ok(v as u64)
    } else {
        Err(error(ERR_BOUNDS, format!("{name} must be a whole number (got {v})")))
    }
}

#[napi]
pub struct NativeHistogram {
    inner: Recorder,
}

#[napi]
impl NativeHistogram {
    #[napi(constructor)]
    pub fn new(lowest: f64, highest: f64, significant_digits: f64) -> Result<Self, &'static str> {
        let digits = whole("significantDigits", significant_digits)?;
        let bounds = Bounds {
            lowest: whole("lowest", lowest)?,
            highest: whole("highest", highest)?,
            significant_digits: u8::try_from(digits).unwrap_or(u8::MAX),
        };
        Recorder::new(bounds).map(|inner| NativeHistogram { inner }).map_err(|e| error(ERR_BOUNDS, e))
    }

    #[napi]
    pub fn record(&mut self, value: f64) -> Result<(), &'static str> {
        self.inner.record(value).map_err(|e| error(ERR_VALUE, e))
    }

    #[napi]
    pub fn record_with_count(&mut self, value: f64, count: f64) -> Result<(), &'static str> {
        let count = whole("count", count).map_err(|e| error(ERR_VALUE, e.reason))?;
        self.inner.record_n(value, count).map_err(|e| error(ERR_VALUE, e))
    }

    #[napi]
    pub fn record_many(&mut self, values: Float64ArraySlice) -> Result<(), &'static str> {
        self.inner
            .record_all(&values)
            .map_err(|(index, e)| error(ERR_VALUE, format!("values[{index}]: {e}; nothing of this batch was recorded")))
    }

    #[napi]
    pub fn add(&mut self, other: &NativeHistogram) {
        self.inner.add(&other.inner);
    }

    #[napi]
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    #[napi]
    pub fn value_at_percentile(&self, percentile: f64) -> Result<f64, &'static str> {
        self.inner.value_at_percentile(percentile).map(|v| v as f64).map_err(|e| error(ERR_PERCENTILE, e))
    }

    /// Reads many percentiles in one crossing of the boundary (what a report row needs).
    #[napi]
    pub fn values_at_percentiles(&self, percentiles: Float64ArraySlice) -> Result<Vec<f64>, &'static str> {
        percentiles
            .iter()
            .map(|&p| self.inner.value_at_percentile(p).map(|v| v as f64).map_err(|e| error(ERR_PERCENTILE, e)))
            .collect()
    }

    #[napi(getter)]
    pub fn mean(&self) -> f64 {
        self.inner.mean()
    }

    #[napi(getter)]
    pub fn stddev(&self) -> f64 {
        self.inner.stddev()
    }

    #[napi(getter)]
    pub fn min(&self) -> f64 {
        self.inner.min() as f64
    }

    #[napi(getter)]
    pub fn max(&self) -> f64 {
        self.inner.max() as f64
    }

    #[napi(getter)]
    pub fn total_count(&self) -> f64 {
        self.inner.total_count() as f64
    }

    #[napi(getter)]
    pub fn clamped_count(&self) -> f64 {
        self.inner.clamped_count() as f64
    }

    #[napi(getter)]
    pub fn lowest(&self) -> f64 {
        self.inner.bounds().lowest as f64
    }

    #[napi(getter)]
    pub fn highest(&self) -> f64 {
        self.inner.bounds().highest as f64
    }

    #[napi(getter)]
    pub fn significant_digits(&self) -> u32 {
        self.inner.bounds().significant_digits as u32
    }

    #[napi]
    pub fn encode(&self) -> Uint8Array {
        Uint8Array::new(self.inner.encode())
    }

    #[napi(factory)]
    pub fn decode(bytes: Uint8ArraySlice) -> Result<NativeHistogram, &'static str> {
        Recorder::decode(&bytes).map(|inner| NativeHistogram { inner }).map_err(|e| error(ERR_DECODE, e))
    }
}
