//! The Node-API layer: one engine per JavaScript thread, reached through a
//! tagged external handle by plain Node-API functions. napi-rs's per-call
//! bookkeeping costs hundreds of nanoseconds, more than a send itself on
//! loopback, so every function here is a raw callback (as in hdr-native's hot
//! path); `#[napi]` only registers them. The TypeScript face is `ts/netio/`.
//!
//! Functions, as JavaScript sees them (errors as negative errno, `PEER_CLOSED`
//! for end of stream; see `ts/netio/native.ts`):
//! - `createEngine(onEvents(events: ArrayBuffer, data: Buffer | null), threaded = false)` → handle
//!   (`threaded` needs the cargo feature `thread-wake`; `threadWake` says whether the build has it)
//! - `constants`: the event numbers, event width, `PEER_CLOSED` and transports (ts/netio/native.ts's table)
//! - `connect(handle, transport 0 tcp | 1 udp, ip, port)` → `[id, connUs]` (connUs −1 for TCP: an event follows) or −errno
//! - `send(handle, id, Uint8Array)` → 0 sent, 1 queued (a `Sent` event follows), or −errno
//! - `recv(handle, id)` → Buffer, 0 (a `Data` event follows), or −errno
//! - `close(handle, id)`, `stats(handle)` → `[bytesSent, bytesReceived, opened, open]`, `destroyEngine(handle)`
//! - `raiseOpenFileLimit()`, `openFileLimit()` → `[soft, hard, previous]` (−1: unlimited) or −errno

mod driver;
mod raw;
mod uv;
#[cfg(feature = "thread-wake")]
mod waiter;
