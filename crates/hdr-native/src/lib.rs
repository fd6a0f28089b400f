//! HDR histograms for Stressgrid.
//!
//! `recorder` is plain Rust over the HdrHistogram project's own crate and knows
//! nothing of Node; `node` is the thin Node-API layer that the generator and the
//! coordinator load. Keeping them apart lets `cargo test` exercise the core
//! without a JavaScript runtime.

pub mod codec;
pub mod recorder;

#[cfg(feature = "node")]
mod node;

pub use codec::DecodeError;
pub use recorder::{Bounds, BoundsError, PercentileError, Recorder, ValueError};
