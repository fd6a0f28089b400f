//! The HdrHistogram V2 encodings, the forms the Java, C, Rust and JS
//! implementations exchange: compressed (zlib-deflated, the smallest, for files
//! and interchange) and plain (about twice the bytes, several times cheaper to
//! merge: what generators push every second).
//!
//! Decoding checks every length against the bytes actually given before the
//! reference deserializer sees them: a corrupt length field must produce an
//! error, not a multi-gigabyte allocation.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::io::{Cursor, Read};

#[cfg(test)]
use flate2::read::ZlibDecoder;
use flate2::{Decompress, FlushDecompress, Status};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer, V2Serializer};

use crate::recorder::Recorder;

const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// cookie, payload length, normalizing offset, digits, lowest, highest, conversion ratio.
const V2_HEADER_LEN: usize = 40;
/// No histogram the format can describe decodes to more than this (5 digits over the whole u64 range is ~56 MiB of varints).
const MAX_DECOMPRESSED: u64 = 64 << 20;

/// Why bytes could not be decoded into a histogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header promises: the buffer was cut short.
    Truncated { needed: usize, got: usize },
    /// The first four bytes are not a V2 cookie: this is not an encoded HDR histogram.
    NotAHistogram(u32),
    /// The bytes are a histogram but broken inside (bad deflate stream, bad counts).
    Corrupt(String),
    /// A valid histogram using a feature this implementation does not read (normalizing offset, double ratio).
    Unsupported(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { needed, got } => {
                write!(f, "encoded histogram is truncated: needs {needed} bytes, got {got}")
            }
            DecodeError::NotAHistogram(cookie) => {
                write!(f, "not an encoded HDR histogram (cookie 0x{cookie:08x}, expected V2 0x{V2_COMPRESSED_COOKIE:08x})")
            }
            DecodeError::Corrupt(why) => write!(f, "encoded histogram is corrupt: {why}"),
            DecodeError::Unsupported(why) => write!(f, "encoded histogram uses an unsupported feature: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The header fields of an uncompressed V2 histogram.
struct Header {
    payload_len: usize,
    digits: u32,
    lowest: u64,
    highest: u64,
}

/// Reads and checks the V2 header. hdr-histogram-js writes a normalizing offset of 1
/// and the conversion ratio as the integer 1 (the bits of 5e-324) where Java and Rust
/// write 0 and 1.0; every reader ignores both fields for integer histograms, so both
/// spellings are accepted and anything else is refused.
fn header(v2: &[u8]) -> Result<Header, DecodeError> {
    if v2.len() < V2_HEADER_LEN {
        return Err(DecodeError::Truncated { needed: V2_HEADER_LEN, got: v2.len() });
    }
    if be_u32(v2, 0) != V2_COOKIE {
        return Err(DecodeError::Corrupt(format!("inner cookie 0x{:08x} is not V2", be_u32(v2, 0))));
    }
    let payload_len = be_u32(v2, 4) as usize;
    if v2.len() - V2_HEADER_LEN < payload_len {
        return Err(DecodeError::Truncated { needed: V2_HEADER_LEN + payload_len, got: v2.len() });
    }
    let offset = be_u32(v2, 8);
    if offset > 1 {
        return Err(DecodeError::Unsupported(format!("normalizing index offset {offset}")));
    }
    let ratio_bits = u64::from_be_bytes(v2[32..40].try_into().expect("8 bytes"));
    if ratio_bits != 1.0f64.to_bits() && ratio_bits != 1 {
        return Err(DecodeError::Unsupported(format!(
            "integer-to-double conversion ratio {} (a double histogram)",
            f64::from_bits(ratio_bits)
        )));
    }
    Ok(Header {
        payload_len,
        digits: be_u32(v2, 12),
        lowest: u64::from_be_bytes(v2[16..24].try_into().expect("8 bytes")),
        highest: u64::from_be_bytes(v2[24..32].try_into().expect("8 bytes")),
    })
}

/// The uncompressed V2 bytes of an encoding, compressed or not.
fn plain_v2(bytes: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    if bytes.len() < 8 {
        return Err(DecodeError::Truncated { needed: 8, got: bytes.len() });
    }
    match be_u32(bytes, 0) {
        V2_COMPRESSED_COOKIE => {
            let len = be_u32(bytes, 4) as usize;
            let body = &bytes[8..];
            if body.len() < len {
                return Err(DecodeError::Truncated { needed: 8 + len, got: bytes.len() });
            }
            inflate(&body[..len]).map(Cow::Owned)
        }
        V2_COOKIE => Ok(Cow::Borrowed(bytes)),
        other => Err(DecodeError::NotAHistogram(other)),
    }
}

thread_local! {
    /// One inflater per thread, reset per stream: setting up a fresh one (state and
    /// window) cost more than inflating a small histogram.
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(true));
}

/// Inflates a zlib stream, refusing one that expands beyond any valid histogram.
fn inflate(stream: &[u8]) -> Result<Vec<u8>, DecodeError> {
    INFLATER.with(|cell| {
        let mut z = cell.borrow_mut();
        z.reset(true);
        let mut out: Vec<u8> = Vec::with_capacity((stream.len() * 4).clamp(256, MAX_DECOMPRESSED as usize));
        loop {
            let consumed = z.total_in() as usize;
            let status = z
                .decompress_vec(&stream[consumed..], &mut out, FlushDecompress::Finish)
                .map_err(|e| DecodeError::Corrupt(format!("deflate stream: {e}")))?;
            match status {
                Status::StreamEnd => return Ok(out),
                _ if out.len() as u64 >= MAX_DECOMPRESSED => {
                    return Err(DecodeError::Corrupt("deflate stream expands beyond any valid histogram".into()));
                }
                _ if out.len() < out.capacity() && z.total_in() as usize >= stream.len() => {
                    return Err(DecodeError::Corrupt("deflate stream: truncated".into()));
                }
                _ => out.reserve(out.capacity().min(MAX_DECOMPRESSED as usize - out.len()).max(256)),
            }
        }
    })
}

/// One zig-zag LEB128 number of the counts payload (at most 9 bytes, the 9th whole).
#[inline(always)]
fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let first = *buf.get(*pos)?;
    *pos += 1;
    // Counts and short zero runs fit one byte: most numbers of a payload.
    let n = if first & 0x80 == 0 {
        u64::from(first)
    } else {
        let mut n = u64::from(first & 0x7f);
        for i in 1..9 {
            let b = *buf.get(*pos)?;
            *pos += 1;
            if i == 8 {
                n |= u64::from(b) << 56;
                break;
            }
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        n
    };
    Some(((n >> 1) as i64) ^ -((n & 1) as i64))
}

/// What one walk over a counts payload did.
struct Folded {
    /// Why the payload is not valid, if it is not.
    error: Option<DecodeError>,
    /// Byte position where the walk stopped (the payload's end unless a number was cut off).
    end: usize,
    /// Sum of the counts applied.
    total: u64,
}

/// Applies every count of a V2 counts payload to `pending` with `op`, up to byte `limit`.
/// Zero runs and counts interleave unpredictably, so neither the index step nor the
/// add branches on which one a number is (a run adds 0 to some slot).
#[inline(always)]
fn fold_counts(payload: &[u8], pending: &mut [u64], slots: usize, counts_len: usize, op: fn(u64, u64) -> u64, limit: usize) -> Folded {
    let (mut pos, mut index, mut total) = (0usize, 0usize, 0u64);
    let mut too_long = false;
    let end = payload.len().min(limit);
    while pos < end {
        let start = pos;
        let Some(n) = read_varint(payload, &mut pos) else {
            return Folded { error: Some(DecodeError::Corrupt("counts payload ends inside a number".into())), end: start, total };
        };
        let run = n < 0;
        let count = if run { 0 } else { n as u64 };
        // Encoders size the array to the bucket's end, past `highest`: those values fold
        // into `highest`'s slot, as record() clamps them.
        too_long |= (count > 0) & (index >= counts_len);
        let slot = &mut pending[index.min(slots - 1)];
        *slot = op(*slot, count);
        total = total.wrapping_add(count);
        index = index.saturating_add(if run { n.unsigned_abs() as usize } else { 1 });
    }
    let error = too_long.then(|| DecodeError::Corrupt("counts array longer than the histogram's range".into()));
    Folded { error, end: pos, total }
}

impl Recorder {
    /// Encodes in the V2 compressed format (zlib-deflated V2 with cookie 0x1c849314).
    pub fn encode(&mut self) -> Vec<u8> {
        self.serialize_with(V2DeflateSerializer::new())
    }

    /// Encodes in the plain V2 format (cookie 0x1c849313): no inflate on the reading
    /// side, so merging it costs a third of merging the compressed form.
    pub fn encode_plain(&mut self) -> Vec<u8> {
        self.serialize_with(V2Serializer::new())
    }

    fn serialize_with<S: Serializer>(&mut self, mut serializer: S) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        serializer.serialize(self.histogram(), &mut out).expect("serializing into a Vec cannot fail");
        out
    }

    /// Decodes the V2 format, compressed or not. The clamped count is not part of the
    /// format and starts at zero.
    pub fn decode(bytes: &[u8]) -> Result<Recorder, DecodeError> {
        let v2 = plain_v2(bytes)?;
        header(&v2)?;
        let mut fixed = [0u8; V2_HEADER_LEN];
        fixed.copy_from_slice(&v2[..V2_HEADER_LEN]);
        fixed[8..12].copy_from_slice(&0u32.to_be_bytes());
        fixed[32..40].copy_from_slice(&1.0f64.to_be_bytes());
        let histogram = Deserializer::new()
            .deserialize::<u64, _>(&mut Cursor::new(fixed).chain(&v2[V2_HEADER_LEN..]))
            .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
        Ok(Recorder::from_histogram(histogram))
    }

    /// Adds an encoded histogram without building it first: the coordinator's merge of
    /// every generator push. Counts of the same layout go straight into their slots;
    /// an encoding of other bounds is decoded and added. Nothing is added on error.
    pub fn add_encoded(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let v2 = plain_v2(bytes)?;
        let h = header(&v2)?;
        let b = self.bounds();
        if (h.lowest, h.highest, h.digits) != (b.lowest, b.highest, u32::from(b.significant_digits)) {
            let mut other = Recorder::decode(bytes)?;
            self.add(&mut other);
            return Ok(());
        }
        let payload = &v2[V2_HEADER_LEN..V2_HEADER_LEN + h.payload_len];
        let (slots, counts_len) = (self.slot_count(), self.counts_len());
        let pending = self.pending_mut();
        // Counts go straight into their slots; the rare corrupt payload is walked again
        // to take back exactly what was added, so nothing of it stays.
        let added = fold_counts(payload, pending, slots, counts_len, u64::wrapping_add, usize::MAX);
        if let Some(error) = added.error {
            fold_counts(payload, pending, slots, counts_len, u64::wrapping_sub, added.end);
            return Err(error);
        }
        self.add_pending_total(added.total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Bounds;

    fn sample() -> Recorder {
        let mut h = Recorder::new(Bounds::default()).unwrap();
        for v in [1.0, 2.0, 3.0, 100.0, 1000.0, 123_456.0, 59_000_000.0] {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn round_trips() {
        let mut h = sample();
        let mut d = Recorder::decode(&h.encode()).unwrap();
        assert_eq!(d.total_count(), h.total_count());
        assert_eq!(d.bounds(), h.bounds());
        for p in [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            assert_eq!(d.value_at_percentile(p).unwrap(), h.value_at_percentile(p).unwrap());
        }
    }

    #[test]
    fn header_is_the_v2_compressed_layout() {
        let bytes = sample().encode();
        assert_eq!(be_u32(&bytes, 0), V2_COMPRESSED_COOKIE);
        assert_eq!(be_u32(&bytes, 4) as usize, bytes.len() - 8);
        // zlib stream header: deflate, 32K window.
        assert_eq!(bytes[8] & 0x0f, 8);
        let mut plain = Vec::new();
        ZlibDecoder::new(&bytes[8..]).read_to_end(&mut plain).unwrap();
        assert_eq!(be_u32(&plain, 0), V2_COOKIE);
        assert_eq!(be_u32(&plain, 8), 0, "normalizing offset");
        assert_eq!(be_u32(&plain, 12), 3, "significant digits");
        assert_eq!(u64::from_be_bytes(plain[16..24].try_into().unwrap()), 1);
        assert_eq!(u64::from_be_bytes(plain[24..32].try_into().unwrap()), 60_000_000);
        assert_eq!(f64::from_be_bytes(plain[32..40].try_into().unwrap()), 1.0);
        assert_eq!(be_u32(&plain, 4) as usize, plain.len() - V2_HEADER_LEN);
    }

    #[test]
    fn plain_encoding_round_trips_and_merges_like_the_compressed_one() {
        let mut r = sample();
        let plain = r.encode_plain();
        assert_eq!(be_u32(&plain, 0), V2_COOKIE);
        let mut decoded = Recorder::decode(&plain).unwrap();
        assert_eq!(decoded.total_count(), r.total_count());
        assert_eq!(decoded.value_at_percentile(99.0).unwrap(), r.value_at_percentile(99.0).unwrap());
        let compressed = r.encode();
        let (mut a, mut b) = (Recorder::new(r.bounds()).unwrap(), Recorder::new(r.bounds()).unwrap());
        a.add_encoded(&plain).unwrap();
        b.add_encoded(&compressed).unwrap();
        assert_eq!(a.encode_plain(), b.encode_plain());
    }

    #[test]
    fn decodes_uncompressed_v2_too() {
        let bytes = sample().encode();
        let mut plain = Vec::new();
        ZlibDecoder::new(&bytes[8..]).read_to_end(&mut plain).unwrap();
        assert_eq!(Recorder::decode(&plain).unwrap().total_count(), 7);
    }

    #[test]
    fn add_encoded_equals_decode_then_add() {
        let mut sample = sample();
        let bytes = sample.encode();
        let mut direct = Recorder::new(Bounds::default()).unwrap();
        direct.record(42.0).unwrap();
        direct.add_encoded(&bytes).unwrap();
        direct.add_encoded(&bytes).unwrap();
        let mut reference = Recorder::new(Bounds::default()).unwrap();
        reference.record(42.0).unwrap();
        reference.add(&mut Recorder::decode(&bytes).unwrap());
        reference.add(&mut Recorder::decode(&bytes).unwrap());
        assert_eq!(direct.encode(), reference.encode());
        // Other bounds take the decode path and still merge.
        let mut narrow = Recorder::new(Bounds { lowest: 1, highest: 10_000, significant_digits: 2 }).unwrap();
        narrow.add_encoded(&bytes).unwrap();
        assert_eq!(narrow.total_count(), 7);
        // A corrupt payload adds nothing.
        let mut broken = bytes.clone();
        broken.truncate(bytes.len() - 3);
        assert!(direct.add_encoded(&broken).is_err());
        assert_eq!(direct.total_count(), 15);
    }

    #[test]
    fn a_payload_that_goes_bad_halfway_adds_nothing() {
        let mut plain = Vec::new();
        ZlibDecoder::new(&sample().encode()[8..]).read_to_end(&mut plain).unwrap();
        let fresh = || {
            let mut r = Recorder::new(Bounds::default()).unwrap();
            r.record(7.0).unwrap();
            r
        };
        let before = fresh().encode();
        // Valid counts first, then: a zero run past the array's end and a count there;
        // or a number cut off after its continuation bit.
        let too_long: &[u8] = &[0xff, 0xff, 0x0f, 0x02];
        let cut: &[u8] = &[0x80];
        for tail in [too_long, cut] {
            let mut bad = plain.clone();
            bad.extend_from_slice(tail);
            let len = (bad.len() - V2_HEADER_LEN) as u32;
            bad[4..8].copy_from_slice(&len.to_be_bytes());
            let mut target = fresh();
            assert!(target.add_encoded(&bad).is_err());
            assert_eq!(target.total_count(), 1);
            assert_eq!(target.encode(), before);
        }
    }

    #[test]
    fn reads_the_header_hdr_histogram_js_writes() {
        let mut plain = Vec::new();
        ZlibDecoder::new(&sample().encode()[8..]).read_to_end(&mut plain).unwrap();
        plain[8..12].copy_from_slice(&1u32.to_be_bytes());
        plain[32..40].copy_from_slice(&1u64.to_be_bytes());
        assert_eq!(Recorder::decode(&plain).unwrap().total_count(), 7);
        plain[8..12].copy_from_slice(&5u32.to_be_bytes());
        assert!(matches!(Recorder::decode(&plain).unwrap_err(), DecodeError::Unsupported(_)));
        plain[8..12].copy_from_slice(&0u32.to_be_bytes());
        plain[32..40].copy_from_slice(&0.5f64.to_be_bytes());
        assert!(matches!(Recorder::decode(&plain).unwrap_err(), DecodeError::Unsupported(_)));
    }

    #[test]
    fn refuses_short_and_foreign_bytes() {
        assert_eq!(Recorder::decode(&[]).unwrap_err(), DecodeError::Truncated { needed: 8, got: 0 });
        assert_eq!(Recorder::decode(&[0; 16]).unwrap_err(), DecodeError::NotAHistogram(0));
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(Recorder::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_huge_length_field_is_an_error_not_an_allocation() {
        let mut bytes = sample().encode();
        bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(Recorder::decode(&bytes).unwrap_err(), DecodeError::Truncated { .. }));
        let mut plain = Vec::new();
        ZlibDecoder::new(&sample().encode()[8..]).read_to_end(&mut plain).unwrap();
        plain[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(Recorder::decode(&plain).unwrap_err(), DecodeError::Truncated { .. }));
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        let bytes = sample().encode();
        let before = {
            let mut r = Recorder::new(Bounds::default()).unwrap();
            r.record(7.0).unwrap();
            r.encode()
        };
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut b = bytes.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed as usize) % b.len();
                b[i] = (seed >> 32) as u8;
            }
            let _ = Recorder::decode(&b);
            let mut target = Recorder::new(Bounds::default()).unwrap();
            target.record(7.0).unwrap();
            if target.add_encoded(&b).is_err() {
                // Every count the walk added was taken back: the histogram is as before.
                assert_eq!(target.total_count(), 1);
                assert_eq!(target.encode(), before);
            }
        }
    }
}
