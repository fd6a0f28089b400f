//! The Node-API layer: converts arguments, maps each core error to a JavaScript
//! error with a stable `code`, and nothing else. The TypeScript wrapper in
//! `ts/hdr/` is the public face; this class is its engine.
//!
//! napi-rs spends a few hundred nanoseconds on every call it dispatches (borrow
//! tracking, class identity checks), which is nothing for a read once a second but
//! 20x the cost of recording a value. So the two recording calls are raw Node-API
//! functions (`raw`), reaching the same recorder through a tagged external handle.

mod raw;

use std::cell::RefCell;
use std::rc::Rc;

use napi::bindgen_prelude::{Float64ArraySlice, Uint8Array, Uint8ArraySlice, Unknown};
use napi::{Env, Error, Result};
use napi_derive::napi;

use crate::recorder::{Bounds, Recorder};

/// A recorder shared by the class instance and its raw handle; either may be collected first.
pub(crate) type Shared = Rc<RefCell<Recorder>>;

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
    shared: Shared,
}

impl NativeHistogram {
    fn from_recorder(recorder: Recorder) -> Self {
        NativeHistogram { shared: Rc::new(RefCell::new(recorder)) }
    }
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
        Recorder::new(bounds).map(NativeHistogram::from_recorder).map_err(|e| error(ERR_BOUNDS, e))
    }

    /// The handle `recordValue` and `recordValues` (module functions) take.
    #[napi(ts_return_type = "object")]
    pub fn handle<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        raw::new_handle(env, self.shared.clone())
    }

    #[napi]
    pub fn record(&mut self, value: f64) -> Result<(), &'static str> {
        self.shared.borrow_mut().record(value).map_err(|e| error(ERR_VALUE, e))
    }

    #[napi]
    pub fn record_with_count(&mut self, value: f64, count: f64) -> Result<(), &'static str> {
        let count = whole("count", count).map_err(|e| error(ERR_VALUE, e.reason))?;
        self.shared.borrow_mut().record_n(value, count).map_err(|e| error(ERR_VALUE, e))
    }

    #[napi]
    pub fn record_many(&mut self, values: Float64ArraySlice) -> Result<(), &'static str> {
        self.shared
            .borrow_mut()
            .record_all(&values)
            .map_err(|(index, e)| error(ERR_VALUE, format!("values[{index}]: {e}; nothing of this batch was recorded")))
    }

    #[napi]
    pub fn add(&mut self, other: &NativeHistogram) {
        if Rc::ptr_eq(&self.shared, &other.shared) {
            let copy = &mut self.shared.borrow().clone();
            self.shared.borrow_mut().add(copy);
        } else {
            self.shared.borrow_mut().add(&mut other.shared.borrow_mut());
        }
    }

    /// Merges an encoded histogram without materialising it (see `Recorder::add_encoded`).
    #[napi]
    pub fn add_encoded(&mut self, bytes: Uint8ArraySlice) -> Result<(), &'static str> {
        self.shared.borrow_mut().add_encoded(&bytes).map_err(|e| error(ERR_DECODE, e))
    }

    #[napi]
    pub fn reset(&mut self) {
        self.shared.borrow_mut().reset();
    }

    #[napi]
    pub fn value_at_percentile(&self, percentile: f64) -> Result<f64, &'static str> {
        self.shared.borrow_mut().value_at_percentile(percentile).map(|v| v as f64).map_err(|e| error(ERR_PERCENTILE, e))
    }

    /// Reads many percentiles in one crossing of the boundary (what a report row needs).
    #[napi]
    pub fn values_at_percentiles(&self, percentiles: Float64ArraySlice) -> Result<Vec<f64>, &'static str> {
        let mut recorder = self.shared.borrow_mut();
        percentiles.iter().map(|&p| recorder.value_at_percentile(p).map(|v| v as f64).map_err(|e| error(ERR_PERCENTILE, e))).collect()
    }

    /// Cumulative counts at ascending limits in one crossing (a Prometheus histogram's buckets).
    #[napi]
    pub fn counts_at_or_below(&self, limits: Float64ArraySlice) -> Vec<f64> {
        self.shared.borrow_mut().counts_at_or_below(&limits).into_iter().map(|c| c as f64).collect()
    }

    #[napi(getter)]
    pub fn mean(&self) -> f64 {
        self.shared.borrow_mut().mean()
    }

    #[napi(getter)]
    pub fn stddev(&self) -> f64 {
        self.shared.borrow_mut().stddev()
    }

    #[napi(getter)]
    pub fn min(&self) -> f64 {
        self.shared.borrow_mut().min() as f64
    }

    #[napi(getter)]
    pub fn max(&self) -> f64 {
        self.shared.borrow_mut().max() as f64
    }

    #[napi(getter)]
    pub fn total_count(&self) -> f64 {
        self.shared.borrow_mut().total_count() as f64
    }

    #[napi(getter)]
    pub fn clamped_count(&self) -> f64 {
        self.shared.borrow_mut().clamped_count() as f64
    }

    #[napi(getter)]
    pub fn lowest(&self) -> f64 {
        self.shared.borrow().bounds().lowest as f64
    }

    #[napi(getter)]
    pub fn highest(&self) -> f64 {
        self.shared.borrow().bounds().highest as f64
    }

    #[napi(getter)]
    pub fn significant_digits(&self) -> u32 {
        self.shared.borrow().bounds().significant_digits as u32
    }

    #[napi]
    pub fn encode(&self) -> Uint8Array {
        Uint8Array::new(self.shared.borrow_mut().encode())
    }

    #[napi]
    pub fn encode_plain(&self) -> Uint8Array {
        Uint8Array::new(self.shared.borrow_mut().encode_plain())
    }

    #[napi(factory)]
    pub fn decode(bytes: Uint8ArraySlice) -> Result<NativeHistogram, &'static str> {
        Recorder::decode(&bytes).map(NativeHistogram::from_recorder).map_err(|e| error(ERR_DECODE, e))
    }
}
