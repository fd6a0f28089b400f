//! The waiter thread of `Wake::Thread` (cargo feature `thread-wake`, off by
//! default): it blocks in `poll(2)` on the engine's fd, wakes the loop with
//! `uv_async_send`, and sleeps until the loop has drained the poller. It is the
//! I/O-thread handoff the design allowed, kept only to repeat its measurement
//! against `Wake::Poll` (docs/performance.md, "On the event loop, or an I/O thread").

use std::cell::RefCell;
use std::ffi::c_void;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::uv;

pub struct Waiter {
    drained: SyncSender<()>,
    wait_drained: RefCell<Option<Receiver<()>>>,
    stop: Arc<AtomicBool>,
    thread: RefCell<Option<JoinHandle<()>>>,
}

impl Waiter {
    pub fn new() -> Waiter {
        let (drained, wait_drained) = sync_channel::<()>(1);
        Waiter {
            drained,
            wait_drained: RefCell::new(Some(wait_drained)),
            stop: Arc::new(AtomicBool::new(false)),
            thread: RefCell::new(None),
        }
    }

    /// Starts the thread (once).
    ///
    /// # Safety
    ///
    /// `handle` must be an initialised `uv_async_t` that stays open until `stop` has returned,
    /// and `fd` must stay open as long.
    pub unsafe fn spawn(&self, handle: *mut c_void, fd: RawFd) {
        let Some(wait_drained) = self.wait_drained.borrow_mut().take() else { return };
        let stop = self.stop.clone();
        let handle = handle as usize;
        *self.thread.borrow_mut() = Some(std::thread::spawn(move || {
            let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            while !stop.load(Ordering::Acquire) {
                // SAFETY: `pfd` is one valid pollfd; the fd stays open until `stop` has joined this thread.
                if unsafe { libc::poll(&mut pfd, 1, 100) } > 0 && !stop.load(Ordering::Acquire) {
                    // SAFETY: `uv_async_send` may be called from any thread, and the handle stays
                    // open until `stop` has joined this one (the caller's promise).
                    unsafe { uv::uv_async_send(handle as *mut c_void) };
                    if wait_drained.recv().is_err() {
                        return;
                    }
                }
            }
        }));
    }

    /// The loop has drained the poller: the thread may wait for the next events.
    pub fn drained(&self) {
        // Full means the thread has a wake-up pending already.
        let _already = self.drained.try_send(());
    }

    /// Stops the thread and waits for it to end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.drained();
        if let Some(thread) = self.thread.borrow_mut().take() {
            // A panic in the thread has already been reported; there is nothing to undo.
            let _joined = thread.join();
        }
    }
}
