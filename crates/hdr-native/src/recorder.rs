//! A histogram that records measurements the way a load generator produces them:
//! as `f64`s from timers and counters, in batches, never failing the caller for a
//! value that is merely too large.

use std::fmt;

use hdrhistogram::Histogram;

/// The range and precision of a histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Lowest discernible value, at least 1.
    pub lowest: u64,
    /// Highest trackable value; larger values are clamped to it and counted.
    pub highest: u64,
    /// Significant decimal digits kept for every value, 1 to 5.
    pub significant_digits: u8,
}

impl Default for Bounds {
    /// 1 µs .. 60 s at 3 significant digits: the range of every Stressgrid latency metric.
    fn default() -> Self {
        Bounds { lowest: 1, highest: 60_000_000, significant_digits: 3 }
    }
}

/// Why a histogram could not be created with the bounds asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundsError {
    /// `lowest` must be 1 or more: pass 1 for whole-unit values.
    LowestTooLow(u64),
    /// `highest` must be at least twice `lowest`: raise `highest`.
    HighestTooLow { lowest: u64, highest: u64 },
    /// `significant_digits` must be 1 to 5.
    DigitsOutOfRange(u8),
    /// The combination asks for more buckets than a histogram can index: lower `highest` or the digits.
    TooLarge,
}

impl fmt::Display for BoundsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundsError::LowestTooLow(v) => write!(f, "lowest must be at least 1 (got {v})"),
            BoundsError::HighestTooLow { lowest, highest } => {
                write!(f, "highest must be at least twice lowest (lowest {lowest}, highest {highest})")
            }
            BoundsError::DigitsOutOfRange(d) => write!(f, "significantDigits must be 1 to 5 (got {d})"),
            BoundsError::TooLarge => write!(f, "bounds too large for a histogram: lower highest or significantDigits"),
        }
    }
}

impl std::error::Error for BoundsError {}

/// Why a value was refused. Refused values are never recorded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueError {
    /// NaN or an infinity: the measurement itself is broken.
    NotFinite(f64),
    /// Negative values have no place in a histogram of durations and sizes.
    Negative(f64),
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::NotFinite(v) => write!(f, "value must be a finite number (got {v})"),
            ValueError::Negative(v) => write!(f, "value must not be negative (got {v})"),
        }
    }
}

impl std::error::Error for ValueError {}

/// Why a percentile could not be read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PercentileError(pub f64);

impl fmt::Display for PercentileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "percentile must be a number from 0 to 100 (got {})", self.0)
    }
}

impl std::error::Error for PercentileError {}

/// An HDR histogram of whole-unit values plus the count of values it had to clamp.
#[derive(Clone, Debug)]
pub struct Recorder {
    pub(crate) histogram: Histogram<u64>,
    clamped: u64,
}

/// Turns a measurement into the whole unit the histogram stores.
#[inline]
fn to_unit(value: f64) -> Result<u64, ValueError> {
    if !value.is_finite() {
        return Err(ValueError::NotFinite(value));
    }
    if value < 0.0 {
        return Err(ValueError::Negative(value));
    }
    // `as` saturates at u64::MAX, which the histogram then clamps like any large value.
    Ok(value.round() as u64)
}

impl Recorder {
    /// Creates an empty histogram.
    pub fn new(bounds: Bounds) -> Result<Recorder, BoundsError> {
        if bounds.lowest < 1 {
            return Err(BoundsError::LowestTooLow(bounds.lowest));
        }
        if bounds.highest < bounds.lowest.saturating_mul(2) {
            return Err(BoundsError::HighestTooLow { lowest: bounds.lowest, highest: bounds.highest });
        }
        if !(1..=5).contains(&bounds.significant_digits) {
            return Err(BoundsError::DigitsOutOfRange(bounds.significant_digits));
        }
        let histogram = Histogram::new_with_bounds(bounds.lowest, bounds.highest, bounds.significant_digits)
            .map_err(|_| BoundsError::TooLarge)?;
        Ok(Recorder { histogram, clamped: 0 })
    }

    pub(crate) fn from_histogram(histogram: Histogram<u64>) -> Recorder {
        Recorder { histogram, clamped: 0 }
    }

    /// The bounds this histogram was created with.
    pub fn bounds(&self) -> Bounds {
        Bounds {
            lowest: self.histogram.low(),
            highest: self.histogram.high(),
            significant_digits: self.histogram.sigfig(),
        }
    }

    #[inline]
    fn record_unit(&mut self, unit: u64, count: u64) {
        let high = self.histogram.high();
        if unit > high {
            self.clamped += count;
        }
        // The counts array reaches past `high` to its bucket's end; clamp to `high` itself
        // so "clamped" means one thing whatever the bucket layout.
        self.histogram.saturating_record_n(unit.min(high), count);
    }

    /// Records one value, rounded to a whole unit; values above `highest` are clamped and counted.
    pub fn record(&mut self, value: f64) -> Result<(), ValueError> {
        self.record_n(value, 1)
    }

    /// Records `count` occurrences of one value.
    pub fn record_n(&mut self, value: f64, count: u64) -> Result<(), ValueError> {
        let unit = to_unit(value)?;
        self.record_unit(unit, count);
        Ok(())
    }

    /// Records every value of a batch, or none of them: the batch is checked first so a
    /// bad value in the middle never leaves half a batch recorded.
    pub fn record_all(&mut self, values: &[f64]) -> Result<(), (usize, ValueError)> {
        if let Some(index) = values.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err((index, to_unit(values[index]).unwrap_err()));
        }
        let high = self.histogram.high();
        for &v in values {
            let unit = v.round() as u64;
            if unit > high {
                self.clamped += 1;
            }
            self.histogram.saturating_record(unit.min(high));
        }
        Ok(())
    }

    /// Adds every count of `other`. Values beyond this histogram's range are clamped and counted.
    pub fn add(&mut self, other: &Recorder) {
        if self.histogram.add(&other.histogram).is_err() {
            for v in other.histogram.iter_recorded() {
                self.record_unit(other.histogram.highest_equivalent(v.value_iterated_to()), v.count_at_value());
            }
        }
        self.clamped += other.clamped;
    }

    /// Forgets every recorded value.
    pub fn reset(&mut self) {
        self.histogram.reset();
        self.clamped = 0;
    }

    /// The value at or below which `percentile` percent of the recorded values fall.
    pub fn value_at_percentile(&self, percentile: f64) -> Result<u64, PercentileError> {
        if !(0.0..=100.0).contains(&percentile) {
            return Err(PercentileError(percentile));
        }
        Ok(self.histogram.value_at_percentile(percentile))
    }

    /// Arithmetic mean of the recorded values (0 when empty).
    pub fn mean(&self) -> f64 {
        self.histogram.mean()
    }

    /// Standard deviation of the recorded values (0 when empty).
    pub fn stddev(&self) -> f64 {
        self.histogram.stdev()
    }

    /// Lowest recorded value (0 when empty).
    pub fn min(&self) -> u64 {
        if self.histogram.is_empty() { 0 } else { self.histogram.min() }
    }

    /// Highest recorded value (0 when empty).
    pub fn max(&self) -> u64 {
        if self.histogram.is_empty() { 0 } else { self.histogram.max() }
    }

    /// Number of values recorded.
    pub fn total_count(&self) -> u64 {
        self.histogram.len()
    }

    /// Number of recorded values that were above `highest` and clamped to it.
    pub fn clamped_count(&self) -> u64 {
        self.clamped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist() -> Recorder {
        Recorder::new(Bounds::default()).unwrap()
    }

    #[test]
    fn rejects_bad_bounds() {
        let b = Bounds::default();
        assert_eq!(Recorder::new(Bounds { lowest: 0, ..b }).unwrap_err(), BoundsError::LowestTooLow(0));
        assert!(matches!(
            Recorder::new(Bounds { lowest: 10, highest: 15, ..b }).unwrap_err(),
            BoundsError::HighestTooLow { .. }
        ));
        assert_eq!(Recorder::new(Bounds { significant_digits: 0, ..b }).unwrap_err(), BoundsError::DigitsOutOfRange(0));
        assert_eq!(Recorder::new(Bounds { significant_digits: 6, ..b }).unwrap_err(), BoundsError::DigitsOutOfRange(6));
    }

    #[test]
    fn records_and_summarises() {
        let mut h = hist();
        for v in 1..=1000 {
            h.record(v as f64).unwrap();
        }
        assert_eq!(h.total_count(), 1000);
        assert_eq!(h.min(), 1);
        assert_eq!(h.max(), 1000);
        assert_eq!(h.value_at_percentile(50.0).unwrap(), 500);
        assert_eq!(h.value_at_percentile(99.0).unwrap(), 990);
        assert!((h.mean() - 500.5).abs() < 0.5);
        assert!((h.stddev() - 288.67).abs() < 1.0);
    }

    #[test]
    fn empty_histogram_reads_zero() {
        let h = hist();
        assert_eq!((h.min(), h.max(), h.total_count()), (0, 0, 0));
        assert_eq!(h.mean(), 0.0);
        assert_eq!(h.value_at_percentile(99.0).unwrap(), 0);
    }

    #[test]
    fn rounds_fractional_values() {
        let mut h = hist();
        h.record(2.4).unwrap();
        h.record(2.6).unwrap();
        assert_eq!(h.min(), 2);
        assert_eq!(h.max(), 3);
    }

    #[test]
    fn clamps_and_counts_values_above_highest() {
        let mut h = Recorder::new(Bounds { lowest: 1, highest: 1000, significant_digits: 3 }).unwrap();
        h.record(5000.0).unwrap();
        h.record(f64::MAX).unwrap();
        h.record_all(&[1.0, 2000.0]).unwrap();
        assert_eq!(h.total_count(), 4);
        assert_eq!(h.clamped_count(), 3);
        assert_eq!(h.max(), h.histogram.highest_equivalent(1000));
    }

    #[test]
    fn refuses_bad_values_and_records_nothing_of_a_bad_batch() {
        let mut h = hist();
        assert_eq!(h.record(f64::NAN).unwrap_err().to_string(), "value must be a finite number (got NaN)");
        assert_eq!(h.record(-1.0).unwrap_err(), ValueError::Negative(-1.0));
        assert_eq!(h.record(f64::INFINITY).unwrap_err(), ValueError::NotFinite(f64::INFINITY));
        let err = h.record_all(&[1.0, 2.0, f64::NAN, 4.0]).unwrap_err();
        assert_eq!(err.0, 2);
        assert_eq!(h.total_count(), 0);
    }

    #[test]
    fn record_n_counts_many() {
        let mut h = hist();
        h.record_n(10.0, 7).unwrap();
        assert_eq!(h.total_count(), 7);
    }

    #[test]
    fn adds_histograms_of_other_ranges() {
        let mut small = Recorder::new(Bounds { lowest: 1, highest: 1000, significant_digits: 3 }).unwrap();
        let mut wide = hist();
        wide.record_all(&[10.0, 100_000.0]).unwrap();
        small.add(&wide);
        assert_eq!(small.total_count(), 2);
        assert_eq!(small.clamped_count(), 1);
        let mut other = hist();
        other.add(&wide);
        other.add(&wide);
        assert_eq!(other.total_count(), 4);
        assert_eq!(other.max(), wide.max());
    }

    #[test]
    fn reset_forgets_everything() {
        let mut h = hist();
        h.record(1e12).unwrap();
        h.reset();
        assert_eq!((h.total_count(), h.clamped_count()), (0, 0));
    }

    #[test]
    fn percentile_out_of_range_is_refused() {
        let h = hist();
        assert!(h.value_at_percentile(100.5).is_err());
        assert!(h.value_at_percentile(-0.1).is_err());
        assert!(h.value_at_percentile(f64::NAN).is_err());
    }
}
