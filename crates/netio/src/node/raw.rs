//! The exported functions as raw Node-API callbacks (stressgrid-napi-raw); the
//! only unsafe code of the crate is their entry points here and libuv in `driver`.

// Under `cargo test` the #[napi] registration compiles away and nothing calls these.
#![cfg_attr(test, allow(dead_code))]

use std::ffi::CStr;
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::rc::Rc;

use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{Env, JsValue, Result};
use napi_derive::napi;
use stressgrid_napi_raw::{self as raw, Args, Error, Tag, Value};

use super::driver::{Driver, Wake};
use crate::batch::{EventKind, EVENT_WIDTH};
use crate::engine::{code_of, Engine, Limits, RecvOutcome, SendOutcome, Transport, ERR_NOT_CONNECTED, PEER_CLOSED};
use crate::open_files::{self, OpenFileLimit, UNLIMITED};

const ARGUMENT: &CStr = c"ERR_NETIO_ARGUMENT";

/// What an engine handle owns: a share of the driver, shut down when the handle is collected.
struct Handle(Rc<Driver>);

impl Deref for Handle {
    type Target = Driver;
    fn deref(&self) -> &Driver {
        &self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Collected (or never handed out): nobody is left to hear of a failure.
        let _shut = self.0.shutdown();
    }
}

// SAFETY: these two numbers tag nothing but engine handles (hdr-native's tag differs in `upper`).
const HANDLE_TAG: Tag<Handle> = unsafe { Tag::new(0x7374_7265_7373_6772, 0x6964_2d6e_6574_0001) };

type Returned<'s> = raw::Result<Option<Value<'s>>>;

/// The engine the first argument names.
fn driver<'s, const N: usize>(env: raw::Env<'s>, args: &Args<'s, N>) -> raw::Result<&'s Handle> {
    match env.external(args.values[0], &HANDLE_TAG) {
        Some(handle) if args.count >= N => Ok(handle),
        _ => Err(Error::argument("the first argument must be a netio engine handle")),
    }
}

/// A connection id: a whole number that fits u32 (anything else names no connection).
fn id_of(env: raw::Env<'_>, v: Value<'_>) -> Option<u32> {
    let d = env.f64(v)?;
    ((0.0..=u32::MAX as f64).contains(&d) && d.fract() == 0.0).then_some(d as u32)
}

fn int(env: raw::Env<'_>, v: i32) -> Returned<'_> {
    env.int32(v).map(Some)
}

fn create_engine<'s>(env: raw::Env<'s>, args: Args<'s, 2>) -> Returned<'s> {
    if args.count < 1 || !env.is_function(args.values[0])? {
        return Err(Error::argument("createEngine(onEvents) needs a function"));
    }
    let threaded = args.count >= 2 && env.bool(args.values[1]).unwrap_or(false);
    let wake = match threaded {
        false => Wake::Poll,
        #[cfg(feature = "thread-wake")]
        true => Wake::Thread,
        #[cfg(not(feature = "thread-wake"))]
        true => {
            return Err(Error::argument(
                "createEngine: this build has no thread wake mode (build crates/netio with the cargo feature thread-wake)",
            ))
        }
    };
    let engine = Engine::new(Limits::default()).map_err(|e| Error::argument(format!("could not create a poller: {e}")))?;
    let driver = Driver::start(env, engine, args.values[0], wake)?;
    // Should the handle not be made, dropping it shuts the driver down.
    env.new_external(Handle(driver), &HANDLE_TAG).map(Some)
}

fn connect<'s>(env: raw::Env<'s>, args: Args<'s, 4>) -> Returned<'s> {
    let driver = driver(env, &args)?;
    let [_, transport, ip, port] = args.values;
    let Some(transport) = env.i32(transport).and_then(Transport::from_code) else {
        return Err(Error::argument("connect: transport must be 0 (tcp) or 1 (udp)"));
    };
    let mut buf = [0u8; 64];
    let Some(ip) = env.str(ip, &mut buf).and_then(|s| s.parse::<IpAddr>().ok()) else {
        return Err(Error::argument("connect: ip must be an IPv4 or IPv6 literal"));
    };
    let port = match env.f64(port) {
        Some(port) if (1.0..=65535.0).contains(&port) && port.fract() == 0.0 => port as u16,
        _ => return Err(Error::argument("connect: port must be a whole number from 1 to 65535")),
    };
    let result =
        driver.engine.try_borrow_mut().map_err(|_| Error::argument("connect: engine busy"))?.connect(transport, SocketAddr::new(ip, port));
    driver.update_ref();
    match result {
        Ok((id, spent)) => env.numbers(&[id as f64, spent.map_or(-1.0, |us| us as f64)]).map(Some),
        Err(e) => int(env, -code_of(&e)),
    }
}

fn send<'s>(env: raw::Env<'s>, args: Args<'s, 3>) -> Returned<'s> {
    let driver = driver(env, &args)?;
    let Some(id) = id_of(env, args.values[1]) else { return int(env, -ERR_NOT_CONNECTED) };
    let bytes = env.typed_array::<u8>(args.values[2]).ok_or(Error::argument("send: data must be a Uint8Array"))?;
    let mut engine = driver.engine.try_borrow_mut().map_err(|_| Error::argument("send: engine busy"))?;
    match engine.send(id, bytes) {
        Ok(SendOutcome::Done) => int(env, 0),
        Ok(SendOutcome::Queued) => int(env, 1),
        Err(e) => int(env, -code_of(&e)),
    }
}

fn recv<'s>(env: raw::Env<'s>, args: Args<'s, 2>) -> Returned<'s> {
    let driver = driver(env, &args)?;
    let Some(id) = id_of(env, args.values[1]) else { return int(env, -ERR_NOT_CONNECTED) };
    let mut engine = driver.engine.try_borrow_mut().map_err(|_| Error::argument("recv: engine busy"))?;
    let mut out = Vec::new();
    match engine.recv(id, &mut out) {
        Ok(RecvOutcome::Waiting) => int(env, 0),
        Ok(RecvOutcome::Data(n)) => env.buffer_copy(&out[..n]).map(Some),
        Err(e) => int(env, -code_of(&e)),
    }
}

fn close<'s>(env: raw::Env<'s>, args: Args<'s, 2>) -> Returned<'s> {
    let driver = driver(env, &args)?;
    if let Some(id) = id_of(env, args.values[1]) {
        driver.engine.try_borrow_mut().map_err(|_| Error::argument("close: engine busy"))?.close(id);
        driver.update_ref();
    }
    Ok(None)
}

fn stats<'s>(env: raw::Env<'s>, args: Args<'s, 1>) -> Returned<'s> {
    let driver = driver(env, &args)?;
    let s = driver.engine.try_borrow().map_err(|_| Error::argument("stats: engine busy"))?.stats();
    env.numbers(&[s.bytes_sent, s.bytes_received, s.connections_opened, s.open].map(|v| v as f64)).map(Some)
}

fn destroy_engine<'s>(env: raw::Env<'s>, args: Args<'s, 1>) -> Returned<'s> {
    driver(env, &args)?.shutdown()?;
    Ok(None)
}

/// `[soft, hard, previous]` (-1 for unlimited), or -errno.
fn limit_result(env: raw::Env<'_>, result: std::io::Result<OpenFileLimit>) -> Returned<'_> {
    match result {
        Ok(limit) => env.numbers(&[limit.soft, limit.hard, limit.previous].map(|v| if v == UNLIMITED { -1.0 } else { v as f64 })).map(Some),
        Err(error) => env.double(-f64::from(error.raw_os_error().unwrap_or(libc::EINVAL))).map(Some),
    }
}

fn raise_open_file_limit<'s>(env: raw::Env<'s>, _args: Args<'s, 0>) -> Returned<'s> {
    limit_result(env, open_files::raise_open_file_limit())
}

fn open_file_limit<'s>(env: raw::Env<'s>, _args: Args<'s, 0>) -> Returned<'s> {
    limit_result(env, open_files::open_file_limit())
}

#[napi(module_exports)]
pub fn register(mut exports_object: Object, env: Env) -> Result<()> {
    // SAFETY: napi-rs calls this while the module loads, with that call's env; nothing made here outlives it.
    let raw_env = unsafe { raw::Env::from_raw(env.raw()) };
    // SAFETY: `exports` is a live handle of this call.
    let exports = unsafe { raw_env.value(exports_object.raw()) };
    let functions: [(&CStr, raw::Callback); 9] = [
        (c"createEngine", raw::entry!(ARGUMENT, create_engine)),
        (c"connect", raw::entry!(ARGUMENT, connect)),
        (c"send", raw::entry!(ARGUMENT, send)),
        (c"recv", raw::entry!(ARGUMENT, recv)),
        (c"close", raw::entry!(ARGUMENT, close)),
        (c"stats", raw::entry!(ARGUMENT, stats)),
        (c"destroyEngine", raw::entry!(ARGUMENT, destroy_engine)),
        (c"raiseOpenFileLimit", raw::entry!(ARGUMENT, raise_open_file_limit)),
        (c"openFileLimit", raw::entry!(ARGUMENT, open_file_limit)),
    ];
    for (name, callback) in functions {
        raw_env.export(exports, name, callback)?;
    }
    exports_object.set("constants", constants(&env)?)?;
    exports_object.set("threadWake", cfg!(feature = "thread-wake"))?;
    Ok(())
}

/// The numbers JavaScript and the engine share, frozen, in the shape of ts/netio/native.ts:
/// `{ EVENT: { connected: 1, ... }, EVENT_WIDTH, PEER_CLOSED, TRANSPORT: { tcp: 0, udp: 1 } }`.
fn constants(env: &Env) -> Result<Object<'_>> {
    let mut event = Object::new(env)?;
    for (kind, name) in EventKind::ALL {
        event.set(name, kind as i32)?;
    }
    event.freeze()?;
    let mut transport = Object::new(env)?;
    for (_, code, name) in Transport::ALL {
        transport.set(name, code)?;
    }
    transport.freeze()?;
    let mut constants = Object::new(env)?;
    constants.set("EVENT", event)?;
    constants.set("EVENT_WIDTH", EVENT_WIDTH as u32)?;
    constants.set("PEER_CLOSED", PEER_CLOSED)?;
    constants.set("TRANSPORT", transport)?;
    constants.freeze()?;
    Ok(constants)
}
