//! The HdrHistogram V2 compressed encoding, the form the Java, C, Rust and JS
//! implementations exchange.
//!
//! Decoding checks every length against the bytes actually given before the
//! reference deserializer sees them: a corrupt length field must produce an
//! error, not a multi-gigabyte allocation.

use std::fmt;
use std::io::{Cursor, Read};

use flate2::read::ZlibDecoder;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

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

impl Recorder {
    /// Encodes in the V2 compressed format (zlib-deflated V2 with cookie 0x1c849314).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        V2DeflateSerializer::new()
            .serialize(&self.histogram, &mut out)
            .expect("serializing into a Vec cannot fail");
        out
    }

    /// Decodes the V2 format, compressed or not. The clamped count is not part of the
    /// format and starts at zero.
    pub fn decode(bytes: &[u8]) -> Result<Recorder, DecodeError> {
        if bytes.len() < 8 {
            return Err(DecodeError::Truncated { needed: 8, got: bytes.len() });
        }
        let plain: Vec<u8>;
        let v2: &[u8] = match be_u32(bytes, 0) {
            V2_COMPRESSED_COOKIE => {
                let len = be_u32(bytes, 4) as usize;
                let body = &bytes[8..];
                if body.len() < len {
                    return Err(DecodeError::Truncated { needed: 8 + len, got: bytes.len() });
                }
                let mut out = Vec::new();
                ZlibDecoder::new(&body[..len])
                    .take(MAX_DECOMPRESSED + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| DecodeError::Corrupt(format!("deflate stream: {e}")))?;
                if out.len() as u64 > MAX_DECOMPRESSED {
                    return Err(DecodeError::Corrupt("deflate stream expands beyond any valid histogram".into()));
                }
                plain = out;
                &plain
            }
            V2_COOKIE => bytes,
            other => return Err(DecodeError::NotAHistogram(other)),
        };
        if v2.len() < V2_HEADER_LEN {
            return Err(DecodeError::Truncated { needed: V2_HEADER_LEN, got: v2.len() });
        }
        if be_u32(v2, 0) != V2_COOKIE {
            return Err(DecodeError::Corrupt(format!("inner cookie 0x{:08x} is not V2", be_u32(v2, 0))));
        }
        let payload = be_u32(v2, 4) as usize;
        if v2.len() - V2_HEADER_LEN < payload {
            return Err(DecodeError::Truncated { needed: V2_HEADER_LEN + payload, got: v2.len() });
        }
        let histogram = Deserializer::new()
            .deserialize::<u64, _>(&mut Cursor::new(v2))
            .map_err(|e| match e {
                hdrhistogram::serialization::DeserializeError::UnsupportedFeature => {
                    DecodeError::Unsupported("normalizing offset or integer-to-double ratio".into())
                }
                other => DecodeError::Corrupt(other.to_string()),
            })?;
        Ok(Recorder::from_histogram(histogram))
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
        let h = sample();
        let d = Recorder::decode(&h.encode()).unwrap();
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
    fn decodes_uncompressed_v2_too() {
        let bytes = sample().encode();
        let mut plain = Vec::new();
        ZlibDecoder::new(&bytes[8..]).read_to_end(&mut plain).unwrap();
        assert_eq!(Recorder::decode(&plain).unwrap().total_count(), 7);
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
        }
    }
}
