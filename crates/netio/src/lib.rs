//! netio: the nonblocking TCP/UDP engine that pumps device sockets in Rust and
//! hands JavaScript batches of events. The engine arrives with the TCP/UDP
//! device work; this crate holds its place in the workspace until then.
