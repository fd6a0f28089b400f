//! Runs an engine on the Node event loop: libuv watches the poller's own
//! descriptor (epoll/kqueue fds are themselves pollable), and when it turns
//! readable the driver polls without waiting and hands the whole batch to one
//! JavaScript callback. No thread of ours, no cross-thread wake-up: a turn of
//! the loop costs one `epoll_wait` on the engine's fd and one call into
//! JavaScript, however many sockets were ready (docs/performance.md has the
//! measurement behind this choice).
//!
//! The handle is referenced only while the engine holds connections, like a
//! `net.Socket`, so an engine with nothing open never keeps a process alive.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::ptr;
use std::rc::Rc;
use std::time::Duration;

use stressgrid_napi_raw::{self as raw, check, sys, Error, Value};

use super::uv;
#[cfg(feature = "thread-wake")]
use super::waiter::Waiter;
use crate::batch::Batch;
use crate::engine::Engine;

/// Payload buffer capacity kept between turns; a burst above it is given back.
const KEEP_DATA_CAPACITY: usize = 1 << 20;

/// How the loop learns that the poller has events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// libuv polls the poller's fd itself (the default).
    Poll,
    /// A thread of ours waits on the fd and wakes the loop with `uv_async_send`:
    /// the I/O-thread handoff, kept to measure it against `Poll` (`waiter`).
    #[cfg(feature = "thread-wake")]
    Thread,
}

/// The event callback and the async context it runs in, released once (`release`) or when dropped.
struct Held {
    env: sys::napi_env,
    callback: Cell<sys::napi_ref>,
    async_context: Cell<sys::napi_async_context>,
}

impl Held {
    fn new(env: raw::Env<'_>, callback: Value<'_>) -> raw::Result<Held> {
        let mut callback_ref = ptr::null_mut();
        // SAFETY: live env and handle (`raw::Env`); the out pointer a local.
        check("napi_create_reference", unsafe { sys::napi_create_reference(env.raw(), callback.raw(), 1, &mut callback_ref) })?;
        let held = Held { env: env.raw(), callback: Cell::new(callback_ref), async_context: Cell::new(ptr::null_mut()) };
        // From here on, dropping `held` on an error releases what it holds.
        let name = env.string(c"stressgrid:netio")?;
        let mut async_context = ptr::null_mut();
        // SAFETY: live env and handle; the out pointer a local.
        check("napi_async_init", unsafe { sys::napi_async_init(env.raw(), ptr::null_mut(), name.raw(), &mut async_context) })?;
        held.async_context.set(async_context);
        Ok(held)
    }

    /// Releases both; the first failure is reported, after both were tried.
    fn release(&self) -> raw::Result<()> {
        let mut result = Ok(());
        let async_context = self.async_context.replace(ptr::null_mut());
        if !async_context.is_null() {
            // SAFETY: created by `napi_async_init` in this env and not destroyed yet (swapped out above).
            result = check("napi_async_destroy", unsafe { sys::napi_async_destroy(self.env, async_context) });
        }
        let callback = self.callback.replace(ptr::null_mut());
        if !callback.is_null() {
            // SAFETY: created by `napi_create_reference` in this env and not deleted yet.
            result = result.and(check("napi_delete_reference", unsafe { sys::napi_delete_reference(self.env, callback) }));
        }
        result
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Dropped on a failed start, or after `release`: a failure here has nobody to reach.
        let _released = self.release();
    }
}

pub struct Driver {
    pub engine: RefCell<Engine>,
    batch: RefCell<Batch>,
    env: sys::napi_env,
    held: Held,
    handle: *mut c_void,
    layout: Layout,
    referenced: Cell<bool>,
    closed: Cell<bool>,
    #[cfg(feature = "thread-wake")]
    waiter: Option<Waiter>,
}

impl Driver {
    /// Starts watching `engine` on the loop of `env`; `callback(events, data)` receives each batch.
    /// A start that fails part-way releases what it had made.
    pub fn start(env: raw::Env<'_>, engine: Engine, callback: Value<'_>, wake: Wake) -> raw::Result<Rc<Driver>> {
        let mut event_loop = ptr::null_mut();
        // SAFETY: live env; the out pointer a local.
        check("napi_get_uv_event_loop", unsafe { sys::napi_get_uv_event_loop(env.raw(), &mut event_loop) })?;
        let held = Held::new(env, callback)?;
        let kind = match wake {
            Wake::Poll => uv::UV_POLL,
            #[cfg(feature = "thread-wake")]
            Wake::Thread => uv::UV_ASYNC,
        };
        // SAFETY: `uv_handle_size` only reads its argument.
        let size = unsafe { uv::uv_handle_size(kind) };
        let layout = Layout::from_size_align(size.max(64), 16).map_err(|_| Error::argument("bad handle layout"))?;
        // SAFETY: `layout` has a nonzero size (at least 64).
        let handle = unsafe { alloc_zeroed(layout) }.cast::<c_void>();
        if handle.is_null() {
            return Err(Error::argument("out of memory"));
        }
        let fd = engine.raw_fd();
        // SAFETY: `event_loop` is this thread's loop; `handle` is zeroed memory of the size libuv
        // asked for, which stays put until `on_closed` frees it; `fd` is the poller's, open while the engine is.
        let init = unsafe {
            match wake {
                Wake::Poll => uv::uv_poll_init(event_loop.cast(), handle, fd),
                #[cfg(feature = "thread-wake")]
                Wake::Thread => uv::uv_async_init(event_loop.cast(), handle, on_async),
            }
        };
        if init != 0 {
            // SAFETY: libuv refused the handle, so it never saw it: the memory is ours alone.
            unsafe { dealloc(handle.cast(), layout) };
            return Err(Error::argument(format!("libuv refused to watch the poller (error {init})")));
        }
        let driver = Rc::new(Driver {
            engine: RefCell::new(engine),
            batch: RefCell::new(Batch::default()),
            env: env.raw(),
            held,
            handle,
            layout,
            referenced: Cell::new(true),
            closed: Cell::new(false),
            #[cfg(feature = "thread-wake")]
            waiter: (wake == Wake::Thread).then(Waiter::new),
        });
        // The handle owns one share of the driver until libuv has closed it (`on_closed`).
        // SAFETY: a handle's first field is its `data` pointer, which libuv leaves to us.
        unsafe { *handle.cast::<*const Driver>() = Rc::into_raw(driver.clone()) };
        // From here on `shutdown` undoes everything: it closes the handle and releases `held`.
        let started = match wake {
            // SAFETY: the handle was initialised as a poll handle above and is not closed.
            Wake::Poll => match unsafe { uv::uv_poll_start(handle, uv::UV_READABLE, on_readable) } {
                0 => Ok(()),
                code => Err(Error::argument(format!("libuv refused to poll the poller (error {code})"))),
            },
            #[cfg(feature = "thread-wake")]
            Wake::Thread => {
                if let Some(waiter) = &driver.waiter {
                    // SAFETY: an initialised async handle; `close` stops the waiter before closing it,
                    // and the engine (with its fd) outlives both.
                    unsafe { waiter.spawn(handle, fd) };
                }
                Ok(())
            }
        }
        .and_then(|()| {
            // SAFETY: live env; the hook's argument is the driver, which outlives the hook
            // (`shutdown` removes it before the last share can go).
            check("napi_add_env_cleanup_hook", unsafe {
                sys::napi_add_env_cleanup_hook(env.raw(), Some(on_env_cleanup), Rc::as_ptr(&driver) as *mut c_void)
            })
        });
        match started {
            Ok(()) => {
                driver.update_ref();
                Ok(driver)
            }
            Err(error) => {
                // Failures releasing are less telling than the one that stopped the start.
                let _released = driver.close(false);
                Err(error)
            }
        }
    }

    /// Keeps the loop alive exactly while connections are open.
    pub fn update_ref(&self) {
        if self.closed.get() {
            return;
        }
        let busy = !self.engine.borrow().is_empty();
        if busy != self.referenced.get() {
            self.referenced.set(busy);
            // SAFETY: the handle is initialised and not closed (`closed` is false).
            unsafe {
                if busy {
                    uv::uv_ref(self.handle)
                } else {
                    uv::uv_unref(self.handle)
                }
            }
        }
    }

    /// Stops watching and releases the callback; idempotent.
    pub fn shutdown(&self) -> raw::Result<()> {
        self.close(true)
    }

    fn close(&self, hooked: bool) -> raw::Result<()> {
        if self.closed.replace(true) {
            return Ok(());
        }
        let unhooked = if hooked {
            // SAFETY: live env; the same hook and argument `start` added.
            check("napi_remove_env_cleanup_hook", unsafe {
                sys::napi_remove_env_cleanup_hook(self.env, Some(on_env_cleanup), self as *const Driver as *mut c_void)
            })
        } else {
            Ok(())
        };
        #[cfg(not(feature = "thread-wake"))]
        let polling = true;
        #[cfg(feature = "thread-wake")]
        let polling = match &self.waiter {
            None => true,
            Some(waiter) => {
                // The thread must be gone before the handle it signals is.
                waiter.stop();
                false
            }
        };
        if polling {
            // SAFETY: an initialised poll handle, not closed yet; stopping one that never started is allowed.
            unsafe { uv::uv_poll_stop(self.handle) };
        }
        // SAFETY: an initialised handle, closed once (`closed` guards); `on_closed` frees it.
        unsafe { uv::uv_close(self.handle, on_closed) };
        unhooked.and(self.held.release())
    }

    fn turn(&self) {
        let mut batch = std::mem::take(&mut *self.batch.borrow_mut());
        let polled = self.engine.borrow_mut().poll(Some(Duration::ZERO), &mut batch);
        if polled.is_ok() && !batch.is_empty() {
            self.deliver(&batch);
        }
        batch.clear();
        if batch.data.capacity() > KEEP_DATA_CAPACITY {
            batch.data = Vec::new();
        }
        *self.batch.borrow_mut() = batch;
        self.update_ref();
    }

    /// Calls the event callback with `batch`, in a handle scope of its own. What
    /// it throws, and a failure to call it, become uncaught exceptions.
    fn deliver(&self, batch: &Batch) {
        let mut scope = ptr::null_mut();
        // SAFETY: we run on the loop's thread, outside any JavaScript call; the out pointer a local.
        if unsafe { sys::napi_open_handle_scope(self.env, &mut scope) } != sys::Status::napi_ok {
            // No scope, no JavaScript to hand the batch or the failure to: the env is going away.
            return;
        }
        // SAFETY: the scope just opened; every value made with `env` dies before it closes below.
        let env = unsafe { raw::Env::from_raw(self.env) };
        if let Err(error) = self.call(env, batch) {
            // The env is being torn down when even these fail: nobody is left to tell.
            let _thrown = env.throw(c"ERR_NETIO_EVENTS", &error);
            let mut exception = ptr::null_mut();
            // SAFETY: live env; the out pointer a local.
            if unsafe { sys::napi_get_and_clear_last_exception(self.env, &mut exception) } == sys::Status::napi_ok && !exception.is_null() {
                // SAFETY: `exception` is a handle of this scope.
                let _reported = unsafe { sys::napi_fatal_exception(self.env, exception) };
            }
        }
        // SAFETY: the scope opened above, closed once.
        let _closed = unsafe { sys::napi_close_handle_scope(self.env, scope) };
    }

    fn call(&self, env: raw::Env<'_>, batch: &Batch) -> raw::Result<()> {
        // SAFETY: `i32`s have no padding, and any bytes may be read as `u8`s: the same memory, viewed as bytes.
        let event_bytes = unsafe { std::slice::from_raw_parts(batch.events.as_ptr().cast::<u8>(), batch.events.len() * 4) };
        let events = env.array_buffer_copy(event_bytes)?;
        let data = if batch.data.is_empty() { env.null()? } else { env.buffer_copy(&batch.data)? };
        let mut callback = ptr::null_mut();
        // SAFETY: the reference is live until `release`, which the closed check in `on_readable`/`on_async` orders after us.
        check("napi_get_reference_value", unsafe { sys::napi_get_reference_value(self.env, self.held.callback.get(), &mut callback) })?;
        if callback.is_null() {
            return Err(Error::argument("the event callback is gone"));
        }
        let global = env.global()?;
        let argv = [events.raw(), data.raw()];
        let mut result = ptr::null_mut();
        // SAFETY: live env, async context and handles of this scope; `argv` holds 2 handles.
        let status = unsafe {
            sys::napi_make_callback(self.env, self.held.async_context.get(), global.raw(), callback, argv.len(), argv.as_ptr(), &mut result)
        };
        // A pending exception (the callback threw) is left for `deliver` to report.
        check("napi_make_callback", status)
    }
}

unsafe extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
    // SAFETY: libuv passes the handle `start` set up, whose data field holds a share of the
    // driver until `on_closed`, which runs after the last callback.
    let driver = unsafe { &**handle.cast::<*const Driver>() };
    if !driver.closed.get() {
        driver.turn();
    }
}

#[cfg(feature = "thread-wake")]
unsafe extern "C" fn on_async(handle: *mut c_void) {
    // SAFETY: as in `on_readable`.
    let driver = unsafe { &**handle.cast::<*const Driver>() };
    if !driver.closed.get() {
        driver.turn();
    }
    if let Some(waiter) = &driver.waiter {
        waiter.drained();
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    // SAFETY: the handle's share of the driver, put there by `start` with `Rc::into_raw` and taken back once: libuv closes a handle once.
    let driver = unsafe { Rc::from_raw(*handle.cast::<*const Driver>()) };
    // SAFETY: libuv is done with the handle; it was allocated with this layout in `start`.
    unsafe { dealloc(handle.cast(), driver.layout) };
    drop(driver);
}

unsafe extern "C" fn on_env_cleanup(arg: *mut c_void) {
    // SAFETY: the driver `start` registered the hook for; `shutdown` removes the hook before the driver can go.
    let driver = unsafe { &*arg.cast::<Driver>() };
    // The env is going away: nobody is left to hear of a failure.
    let _shut = driver.shutdown();
}
