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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use napi::sys;

use super::uv;
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
    /// the I/O-thread handoff, kept to measure it against `Poll` (docs/performance.md).
    Thread,
}

/// The waiter thread of `Wake::Thread`: it sleeps until the loop has drained the poller.
struct Waiter {
    drained: SyncSender<()>,
    stop: Arc<AtomicBool>,
    thread: RefCell<Option<JoinHandle<()>>>,
}

pub struct Driver {
    pub engine: RefCell<Engine>,
    batch: RefCell<Batch>,
    env: sys::napi_env,
    callback: sys::napi_ref,
    async_context: sys::napi_async_context,
    handle: *mut c_void,
    layout: Layout,
    referenced: Cell<bool>,
    closed: Cell<bool>,
    waiter: Option<Waiter>,
}

impl Driver {
    /// Starts watching `engine` on the loop of `env`; `callback(events, data)` receives each batch.
    pub unsafe fn start(env: sys::napi_env, engine: Engine, callback: sys::napi_value, wake: Wake) -> Result<Rc<Driver>, &'static str> {
        let mut event_loop = ptr::null_mut();
        if sys::napi_get_uv_event_loop(env, &mut event_loop) != sys::Status::napi_ok {
            return Err("no event loop for this thread");
        }
        let mut callback_ref = ptr::null_mut();
        if sys::napi_create_reference(env, callback, 1, &mut callback_ref) != sys::Status::napi_ok {
            return Err("could not hold the event callback");
        }
        let mut name = ptr::null_mut();
        sys::napi_create_string_utf8(env, c"stressgrid:netio".as_ptr(), 16, &mut name);
        let mut async_context = ptr::null_mut();
        if sys::napi_async_init(env, ptr::null_mut(), name, &mut async_context) != sys::Status::napi_ok {
            sys::napi_delete_reference(env, callback_ref);
            return Err("could not create the async context");
        }
        let kind = if wake == Wake::Poll { uv::UV_POLL } else { uv::UV_ASYNC };
        let layout = Layout::from_size_align(uv::uv_handle_size(kind).max(64), 16).map_err(|_| "bad handle layout")?;
        let handle = alloc_zeroed(layout).cast::<c_void>();
        if handle.is_null() {
            return Err("out of memory");
        }
        let fd = engine.raw_fd();
        let (drained, wait_drained) = sync_channel::<()>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let driver = Rc::new(Driver {
            engine: RefCell::new(engine),
            batch: RefCell::new(Batch::default()),
            env,
            callback: callback_ref,
            async_context,
            handle,
            layout,
            referenced: Cell::new(true),
            closed: Cell::new(false),
            waiter: (wake == Wake::Thread).then(|| Waiter { drained, stop: stop.clone(), thread: RefCell::new(None) }),
        });
        let init = match wake {
            Wake::Poll => uv::uv_poll_init(event_loop.cast(), handle, fd),
            Wake::Thread => uv::uv_async_init(event_loop.cast(), handle, on_async),
        };
        if init != 0 {
            dealloc(handle.cast(), layout);
            driver.closed.set(true);
            return Err("libuv refused to watch the poller");
        }
        // The handle owns one share of the driver until libuv has closed it.
        *handle.cast::<*const Driver>() = Rc::into_raw(driver.clone());
        match &driver.waiter {
            None => {
                uv::uv_poll_start(handle, uv::UV_READABLE, on_readable);
            }
            Some(waiter) => {
                let async_handle = handle as usize;
                *waiter.thread.borrow_mut() = Some(std::thread::spawn(move || {
                    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                    while !stop.load(Ordering::Acquire) {
                        if libc::poll(&mut pfd, 1, 100) > 0 && !stop.load(Ordering::Acquire) {
                            uv::uv_async_send(async_handle as *mut c_void);
                            if wait_drained.recv().is_err() {
                                return;
                            }
                        }
                    }
                }));
            }
        }
        driver.update_ref();
        sys::napi_add_env_cleanup_hook(env, Some(on_env_cleanup), Rc::as_ptr(&driver) as *mut c_void);
        Ok(driver)
    }

    /// Keeps the loop alive exactly while connections are open.
    pub fn update_ref(&self) {
        if self.closed.get() {
            return;
        }
        let busy = !self.engine.borrow().is_empty();
        if busy != self.referenced.get() {
            self.referenced.set(busy);
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
    pub fn shutdown(&self) {
        if self.closed.replace(true) {
            return;
        }
        unsafe {
            sys::napi_remove_env_cleanup_hook(self.env, Some(on_env_cleanup), self as *const Driver as *mut c_void);
            match &self.waiter {
                None => {
                    uv::uv_poll_stop(self.handle);
                }
                Some(waiter) => {
                    // The thread must be gone before the handle it signals is.
                    waiter.stop.store(true, Ordering::Release);
                    let _ = waiter.drained.try_send(());
                    if let Some(thread) = waiter.thread.borrow_mut().take() {
                        let _ = thread.join();
                    }
                }
            }
            uv::uv_close(self.handle, on_closed);
            sys::napi_async_destroy(self.env, self.async_context);
            sys::napi_delete_reference(self.env, self.callback);
        }
    }

    unsafe fn turn(&self) {
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

    unsafe fn deliver(&self, batch: &Batch) {
        let env = self.env;
        let mut scope = ptr::null_mut();
        if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
            return;
        }
        let bytes = batch.events.len() * 4;
        let mut events_data = ptr::null_mut();
        let mut events = ptr::null_mut();
        let mut data = ptr::null_mut();
        let mut callback = ptr::null_mut();
        let mut global = ptr::null_mut();
        let ok = sys::napi_create_arraybuffer(env, bytes, &mut events_data, &mut events) == sys::Status::napi_ok
            && {
                ptr::copy_nonoverlapping(batch.events.as_ptr().cast::<u8>(), events_data.cast::<u8>(), bytes);
                if batch.data.is_empty() {
                    sys::napi_get_null(env, &mut data) == sys::Status::napi_ok
                } else {
                    let mut copied = ptr::null_mut();
                    sys::napi_create_buffer_copy(env, batch.data.len(), batch.data.as_ptr().cast(), &mut copied, &mut data)
                        == sys::Status::napi_ok
                }
            }
            && sys::napi_get_reference_value(env, self.callback, &mut callback) == sys::Status::napi_ok
            && !callback.is_null()
            && sys::napi_get_global(env, &mut global) == sys::Status::napi_ok;
        if ok {
            let argv = [events, data];
            let mut result = ptr::null_mut();
            let status = sys::napi_make_callback(env, self.async_context, global, callback, 2, argv.as_ptr(), &mut result);
            if status == sys::Status::napi_pending_exception {
                let mut error = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(env, &mut error);
                sys::napi_fatal_exception(env, error);
            }
        }
        sys::napi_close_handle_scope(env, scope);
    }
}

unsafe extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
    let driver = &**handle.cast::<*const Driver>();
    if !driver.closed.get() {
        driver.turn();
    }
}

unsafe extern "C" fn on_async(handle: *mut c_void) {
    let driver = &**handle.cast::<*const Driver>();
    if !driver.closed.get() {
        driver.turn();
    }
    if let Some(waiter) = &driver.waiter {
        let _ = waiter.drained.try_send(());
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    let driver = Rc::from_raw(*handle.cast::<*const Driver>());
    dealloc(handle.cast(), driver.layout);
    drop(driver);
}

unsafe extern "C" fn on_env_cleanup(arg: *mut c_void) {
    (*arg.cast::<Driver>()).shutdown();
}
