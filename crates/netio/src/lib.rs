//! netio: the nonblocking TCP/UDP engine behind Stressgrid's `tcp` and `udp`
//! devices. It pumps the sockets in Rust and hands JavaScript batches of events,
//! so a byte arriving costs no JavaScript call of its own.
//!
//! `engine` is plain Rust over mio and knows nothing of Node; `node` is the thin
//! Node-API layer that drives one engine per thread from the Node event loop.
//! Keeping them apart lets `cargo test` exercise the engine without a runtime.

pub mod batch;
pub mod engine;
pub mod open_files;

#[cfg(feature = "node")]
mod node;

#[cfg(test)]
mod engine_tests;

pub use batch::{Batch, EventKind};
pub use engine::{Engine, Limits, SendOutcome, Transport};
pub use open_files::{open_file_limit, raise_open_file_limit, OpenFileLimit};
