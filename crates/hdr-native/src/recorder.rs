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
///
/// Recording goes to a plain counts array laid out like the histogram's own and is
/// folded into the `hdrhistogram` histogram before anything reads it: the crate's
/// general `record` costs ~40 cycles a value, this path a handful, and the
/// generator records every request.
#[derive(Clone, Debug)]
pub struct Recorder {
    histogram: Histogram<u64>,
    layout: Layout,
    pending: Vec<u64>,
    pending_total: u64,
    clamped: u64,
}

/// The HdrHistogram bucket layout (the same arithmetic as the Java, C and Rust
/// libraries), so a value's pending slot maps back to a value of the same bucket.
#[derive(Clone, Copy, Debug)]
struct Layout {
    unit_magnitude: u32,
    sub_bucket_half_count_magnitude: u32,
    sub_bucket_half_count: u64,
    sub_bucket_mask: u64,
    leading_zero_count_base: u32,
    high: u64,
}

impl Layout {
    fn new(bounds: Bounds) -> Layout {
        let largest = 2 * 10u64.pow(u32::from(bounds.significant_digits));
        let unit_magnitude = (bounds.lowest as f64).log2().floor() as u32;
        let sub_bucket_count_magnitude = (largest as f64).log2().ceil() as u32;
        let sub_bucket_count = 1u64 << sub_bucket_count_magnitude;
        Layout {
            unit_magnitude,
            sub_bucket_half_count_magnitude: sub_bucket_count_magnitude - 1,
            sub_bucket_half_count: sub_bucket_count / 2,
            sub_bucket_mask: (sub_bucket_count - 1) << unit_magnitude,
            leading_zero_count_base: 64 - unit_magnitude - sub_bucket_count_magnitude,
            high: bounds.highest,
        }
    }

    #[inline(always)]
    fn index(&self, value: u64) -> usize {
        let bucket = self.leading_zero_count_base - (value | self.sub_bucket_mask).leading_zeros();
        let sub_bucket = value >> (bucket + self.unit_magnitude);
        (((u64::from(bucket) + 1) << self.sub_bucket_half_count_magnitude) + sub_bucket - self.sub_bucket_half_count) as usize
    }

    /// Lowest value of the slot at `index`.
    fn value(&self, index: usize) -> u64 {
        let mut bucket = (index >> self.sub_bucket_half_count_magnitude) as i64 - 1;
        let mut sub_bucket = (index as u64 & (self.sub_bucket_half_count - 1)) + self.sub_bucket_half_count;
        if bucket < 0 {
            sub_bucket -= self.sub_bucket_half_count;
            bucket = 0;
        }
        sub_bucket << (bucket as u32 + self.unit_magnitude)
    }
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
    Ok(round(value))
}

/// Counts already-validated values (finite, non-negative) into their slots and returns
/// how many were clamped to `high`.
#[inline(always)]
fn count_into(layout: &Layout, pending: &mut [u64], values: &[f64]) -> u64 {
    // Rounding a value clamped to `high + 0.5` yields 0..=high, whose slots all exist,
    // so the conversion and the index are in range.
    let ceiling = layout.high as f64 + 0.5;
    let last = pending.len() - 1;
    let mut clamped = 0u64;
    for &v in values {
        let up = v + 0.5;
        clamped += u64::from(up > ceiling);
        // Values are validated (no NaN), so a plain comparison clamps: one minsd, not
        // f64::min's NaN handling.
        let up = if up < ceiling { up } else { ceiling };
        // SAFETY: 0.5 <= up <= high + 0.5 < 2^62 (record_all's guard), in range for
        // i64 (one cvttsd2si; a u64 conversion takes two).
        let unit = unsafe { up.to_int_unchecked::<i64>() } as u64;
        let index = layout.index(unit);
        debug_assert!(index <= last);
        // SAFETY: unit <= high and index() is monotonic, so index <= index(high) == last.
        unsafe { *pending.get_unchecked_mut(index.min(last)) += 1 };
    }
    clamped
}

/// `count_into` with `leading_zeros` as one lzcnt instruction instead of bsr and a
/// branch; prebuilt binaries target baseline x86-64, so this is chosen at run time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "lzcnt")]
unsafe fn count_into_lzcnt(layout: &Layout, pending: &mut [u64], values: &[f64]) -> u64 {
    count_into(layout, pending, values)
}

/// Rounds half up a finite non-negative value. `as` saturates at u64::MAX, which is then
/// clamped like any large value; adding 0.5 and truncating avoids a libm call per value.
#[inline(always)]
fn round(value: f64) -> u64 {
    (value + 0.5) as u64
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
        let histogram =
            Histogram::new_with_bounds(bounds.lowest, bounds.highest, bounds.significant_digits).map_err(|_| BoundsError::TooLarge)?;
        Ok(Recorder::from_histogram(histogram))
    }

    pub(crate) fn from_histogram(histogram: Histogram<u64>) -> Recorder {
        let layout = Layout::new(Bounds { lowest: histogram.low(), highest: histogram.high(), significant_digits: histogram.sigfig() });
        Recorder { histogram, layout, pending: Vec::new(), pending_total: 0, clamped: 0 }
    }

    /// Allocates the pending counts on first record: decoded histograms that are only
    /// read or merged never pay for them.
    #[inline(always)]
    fn ensure_pending(&mut self) {
        if self.pending.is_empty() {
            self.pending = vec![0; self.layout.index(self.layout.high) + 1];
        }
    }

    /// Length of the counts array the encoding describes (to the end of `high`'s bucket).
    pub(crate) fn counts_len(&self) -> usize {
        self.histogram.distinct_values()
    }

    /// Number of slots up to and including `high`'s.
    pub(crate) fn slot_count(&self) -> usize {
        self.layout.index(self.layout.high) + 1
    }

    /// The pending counts array (allocated if need be), for merging an encoding of the
    /// same layout straight into it; `add_pending_total` must follow with what was added.
    pub(crate) fn pending_mut(&mut self) -> &mut [u64] {
        self.ensure_pending();
        &mut self.pending
    }

    pub(crate) fn add_pending_total(&mut self, added: u64) {
        self.pending_total = self.pending_total.saturating_add(added);
    }

    /// The histogram with every pending count folded in.
    pub(crate) fn histogram(&mut self) -> &Histogram<u64> {
        if self.pending_total > 0 {
            for (index, slot) in self.pending.iter_mut().enumerate() {
                if *slot > 0 {
                    self.histogram.saturating_record_n(self.layout.value(index), *slot);
                    *slot = 0;
                }
            }
            self.pending_total = 0;
        }
        &self.histogram
    }

    /// The bounds this histogram was created with.
    pub fn bounds(&self) -> Bounds {
        Bounds { lowest: self.histogram.low(), highest: self.histogram.high(), significant_digits: self.histogram.sigfig() }
    }

    #[inline(always)]
    fn record_unit(&mut self, unit: u64, count: u64) {
        let high = self.layout.high;
        if unit > high {
            self.clamped += count;
        }
        // The counts array reaches past `high` to its bucket's end; clamp to `high` itself
        // so "clamped" means one thing whatever the bucket layout.
        self.ensure_pending();
        let slot = &mut self.pending[self.layout.index(unit.min(high))];
        *slot = slot.saturating_add(count);
        self.pending_total = self.pending_total.saturating_add(count);
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
        // A branch-free pass the compiler vectorises; NaN fails both comparisons.
        let valid = values.iter().fold(true, |ok, &v| ok & (0.0..=f64::MAX).contains(&v));
        if !valid {
            let index = values.iter().position(|v| !(v.is_finite() && *v >= 0.0)).expect("an invalid value");
            return Err((index, to_unit(values[index]).unwrap_err()));
        }
        self.ensure_pending();
        if self.layout.high >= 1 << 62 {
            // Beyond what the fast loop's i64 conversion covers; no latency histogram gets here.
            for &v in values {
                self.record_unit(round(v), 1);
            }
            return Ok(());
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("lzcnt") {
            // SAFETY: the CPU has just been found to support lzcnt.
            let clamped = unsafe { count_into_lzcnt(&self.layout, &mut self.pending, values) };
            self.clamped += clamped;
            self.pending_total = self.pending_total.saturating_add(values.len() as u64);
            return Ok(());
        }
        self.clamped += count_into(&self.layout, &mut self.pending, values);
        self.pending_total = self.pending_total.saturating_add(values.len() as u64);
        Ok(())
    }

    /// Adds every count of `other`. Values beyond this histogram's range are clamped and counted.
    pub fn add(&mut self, other: &mut Recorder) {
        let clamped = other.clamped;
        let theirs = other.histogram();
        self.histogram();
        if self.histogram.add(theirs).is_err() {
            for v in theirs.iter_recorded() {
                self.record_unit(theirs.highest_equivalent(v.value_iterated_to()), v.count_at_value());
            }
        }
        self.clamped += clamped;
    }

    /// Forgets every recorded value.
    pub fn reset(&mut self) {
        self.histogram.reset();
        self.pending.fill(0);
        self.pending_total = 0;
        self.clamped = 0;
    }

    /// The value at or below which `percentile` percent of the recorded values fall.
    pub fn value_at_percentile(&mut self, percentile: f64) -> Result<u64, PercentileError> {
        if !(0.0..=100.0).contains(&percentile) {
            return Err(PercentileError(percentile));
        }
        Ok(self.histogram().value_at_percentile(percentile))
    }

    /// How many recorded values are at or below each of `limits` (ascending, in the
    /// histogram's unit), read in one pass: the cumulative buckets of a Prometheus
    /// histogram. A recorded value counts at or below a limit when the highest value
    /// of its equivalence range is, so a count is exact to the histogram's precision.
    pub fn counts_at_or_below(&mut self, limits: &[f64]) -> Vec<u64> {
        let mut counts = vec![0u64; limits.len()];
        for v in self.histogram().iter_recorded() {
            let value = v.value_iterated_to() as f64;
            let first = limits.partition_point(|&limit| limit < value);
            if let Some(slot) = counts.get_mut(first) {
                *slot = slot.saturating_add(v.count_at_value());
            }
        }
        let mut running = 0u64;
        for slot in counts.iter_mut() {
            running = running.saturating_add(*slot);
            *slot = running;
        }
        counts
    }

    /// Arithmetic mean of the recorded values (0 when empty).
    pub fn mean(&mut self) -> f64 {
        self.histogram().mean()
    }

    /// Standard deviation of the recorded values (0 when empty).
    pub fn stddev(&mut self) -> f64 {
        self.histogram().stdev()
    }

    /// Lowest recorded value (0 when empty).
    pub fn min(&mut self) -> u64 {
        let h = self.histogram();
        if h.is_empty() {
            0
        } else {
            h.min()
        }
    }

    /// Highest recorded value (0 when empty).
    pub fn max(&mut self) -> u64 {
        let h = self.histogram();
        if h.is_empty() {
            0
        } else {
            h.max()
        }
    }

    /// Number of values recorded.
    pub fn total_count(&self) -> u64 {
        self.histogram.len() + self.pending_total
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
        assert!(matches!(Recorder::new(Bounds { lowest: 10, highest: 15, ..b }).unwrap_err(), BoundsError::HighestTooLow { .. }));
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
    fn counts_at_or_below_are_cumulative() {
        let mut h = hist();
        for v in 1..=1000 {
            h.record(v as f64).unwrap();
        }
        h.record_n(50_000.0, 10).unwrap();
        assert_eq!(h.counts_at_or_below(&[0.5, 1.0, 100.0, 999.5, 1000.0, 49_000.0, 60_000_000.0]), vec![0, 1, 100, 999, 1000, 1000, 1010]);
        assert_eq!(hist().counts_at_or_below(&[1.0, 2.0]), vec![0, 0]);
    }

    #[test]
    fn empty_histogram_reads_zero() {
        let mut h = hist();
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
        assert_eq!(h.max(), h.histogram().highest_equivalent(1000));
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
        small.add(&mut wide);
        assert_eq!(small.total_count(), 2);
        assert_eq!(small.clamped_count(), 1);
        let mut other = hist();
        other.add(&mut wide);
        other.add(&mut wide);
        assert_eq!(other.total_count(), 4);
        assert_eq!(other.max(), wide.max());
    }

    #[test]
    fn fast_path_lands_in_the_same_buckets_as_the_crate() {
        for digits in 1..=5 {
            for lowest in [1u64, 3, 1000] {
                let bounds = Bounds { lowest, highest: 3_600_000_000, significant_digits: digits };
                let mut ours = Recorder::new(bounds).unwrap();
                let mut reference = Histogram::<u64>::new_with_bounds(lowest, 3_600_000_000, digits).unwrap();
                let mut x: u64 = 12345;
                for _ in 0..20_000 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let v = ((x >> 33) % 3_600_000_000) >> ((x >> 7) % 30);
                    ours.record(v as f64).unwrap();
                    reference.record(v).unwrap();
                }
                let h = ours.histogram();
                assert_eq!(h.len(), reference.len());
                for (a, b) in h.iter_recorded().zip(reference.iter_recorded()) {
                    assert_eq!((a.value_iterated_to(), a.count_at_value()), (b.value_iterated_to(), b.count_at_value()));
                }
                assert_eq!(h.max(), reference.max());
                assert_eq!(h.min(), reference.min());
            }
        }
    }

    #[test]
    fn huge_bounds_take_the_safe_path() {
        let mut h = Recorder::new(Bounds { lowest: 1, highest: u64::MAX / 2, significant_digits: 2 }).unwrap();
        h.record_all(&[1.0, 1e18, 1e30]).unwrap();
        assert_eq!(h.total_count(), 3);
        assert_eq!(h.clamped_count(), 1);
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
        let mut h = hist();
        assert!(h.value_at_percentile(100.5).is_err());
        assert!(h.value_at_percentile(-0.1).is_err());
        assert!(h.value_at_percentile(f64::NAN).is_err());
    }
}
