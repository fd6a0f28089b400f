//! The few libuv functions the driver needs. Node exports libuv's symbols to
//! addons (the same way it exports Node-API), so they resolve when the addon is
//! loaded; a handle's first field is its `data` pointer on every platform.

use std::ffi::{c_int, c_void};

/// `UV_POLL` in libuv's `uv_handle_type`.
pub const UV_POLL: c_int = 8;
/// `UV_ASYNC` in libuv's `uv_handle_type`.
#[cfg(feature = "thread-wake")]
pub const UV_ASYNC: c_int = 1;
/// `UV_READABLE` in libuv's `uv_poll_event`.
pub const UV_READABLE: c_int = 1;

pub type PollCallback = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
#[cfg(feature = "thread-wake")]
pub type AsyncCallback = unsafe extern "C" fn(handle: *mut c_void);
pub type CloseCallback = unsafe extern "C" fn(handle: *mut c_void);

extern "C" {
    pub fn uv_handle_size(kind: c_int) -> usize;
    pub fn uv_poll_init(event_loop: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
    pub fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCallback) -> c_int;
    pub fn uv_poll_stop(handle: *mut c_void) -> c_int;
    #[cfg(feature = "thread-wake")]
    pub fn uv_async_init(event_loop: *mut c_void, handle: *mut c_void, cb: AsyncCallback) -> c_int;
    #[cfg(feature = "thread-wake")]
    pub fn uv_async_send(handle: *mut c_void) -> c_int;
    pub fn uv_close(handle: *mut c_void, cb: CloseCallback);
    pub fn uv_ref(handle: *mut c_void);
    pub fn uv_unref(handle: *mut c_void);
}
