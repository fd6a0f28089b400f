//! The exported functions as raw Node-API callbacks. Every `unsafe` Node-API
//! call of the crate lives here and in `driver`.

// Under `cargo test` the #[napi] registration compiles away and nothing calls these.
#![cfg_attr(test, allow(dead_code))]

use std::ffi::{c_char, c_void, CStr, CString};
use std::net::{IpAddr, SocketAddr};
use std::ptr;
use std::rc::Rc;

use napi::sys;
use napi::{Env, Error, JsValue, Result, Status};
use napi_derive::napi;

use super::driver::{Driver, Wake};
use crate::engine::{code_of, Engine, Limits, RecvOutcome, SendOutcome, Transport};
use crate::open_files::{self, OpenFileLimit, UNLIMITED};

const HANDLE_TAG: sys::napi_type_tag = sys::napi_type_tag { lower: 0x7374_7265_7373_6772, upper: 0x6964_2d6e_6574_0001 };
const OK: sys::napi_status = sys::Status::napi_ok;

unsafe extern "C" fn finalize_handle(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    let driver = Box::from_raw(data.cast::<Rc<Driver>>());
    driver.shutdown();
}

unsafe fn throw(env: sys::napi_env, message: &str) -> sys::napi_value {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    sys::napi_throw_error(env, c"ERR_NETIO_ARGUMENT".as_ptr(), message.as_ptr());
    ptr::null_mut()
}

unsafe fn number(env: sys::napi_env, v: f64) -> sys::napi_value {
    let mut out = ptr::null_mut();
    sys::napi_create_double(env, v, &mut out);
    out
}

unsafe fn int(env: sys::napi_env, v: i32) -> sys::napi_value {
    let mut out = ptr::null_mut();
    sys::napi_create_int32(env, v, &mut out);
    out
}

/// Up to `N` arguments; the first must be an engine handle.
unsafe fn args<'a, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> std::result::Result<(&'a Rc<Driver>, [sys::napi_value; N]), sys::napi_value> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut());
    let mut tagged = false;
    if argc < N || sys::napi_check_object_type_tag(env, argv[0], &HANDLE_TAG, &mut tagged) != OK || !tagged {
        return Err(throw(env, "the first argument must be a netio engine handle"));
    }
    let mut data = ptr::null_mut();
    sys::napi_get_value_external(env, argv[0], &mut data);
    let driver = &*data.cast::<Rc<Driver>>();
    Ok((driver, argv))
}

/// A connection id: a whole number that fits u32 (anything else names no connection).
unsafe fn id_of(env: sys::napi_env, v: sys::napi_value) -> Option<u32> {
    let mut d = 0f64;
    if sys::napi_get_value_double(env, v, &mut d) != OK || !(0.0..=u32::MAX as f64).contains(&d) || d.fract() != 0.0 {
        return None;
    }
    Some(d as u32)
}

unsafe fn string(env: sys::napi_env, v: sys::napi_value) -> Option<String> {
    let mut buf = [0u8; 128];
    let mut len = 0usize;
    if sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast::<c_char>(), buf.len(), &mut len) != OK {
        return None;
    }
    String::from_utf8(buf[..len].to_vec()).ok()
}

unsafe extern "C" fn create_engine(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
    sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut());
    let mut kind = sys::ValueType::napi_undefined;
    if argc < 1 || sys::napi_typeof(env, argv[0], &mut kind) != OK || kind != sys::ValueType::napi_function {
        return throw(env, "createEngine(onEvents) needs a function");
    }
    let mut threaded = false;
    if argc >= 2 {
        sys::napi_get_value_bool(env, argv[1], &mut threaded);
    }
    let wake = if threaded { Wake::Thread } else { Wake::Poll };
    let engine = match Engine::new(Limits::default()) {
        Ok(e) => e,
        Err(e) => return throw(env, &format!("could not create a poller: {e}")),
    };
    let driver = match Driver::start(env, engine, argv[0], wake) {
        Ok(d) => d,
        Err(why) => return throw(env, why),
    };
    let data = Box::into_raw(Box::new(driver)).cast::<c_void>();
    let mut value = ptr::null_mut();
    if sys::napi_create_external(env, data, Some(finalize_handle), ptr::null_mut(), &mut value) != OK {
        let driver = Box::from_raw(data.cast::<Rc<Driver>>());
        driver.shutdown();
        return throw(env, "could not create an engine handle");
    }
    sys::napi_type_tag_object(env, value, &HANDLE_TAG);
    value
}

unsafe extern "C" fn connect(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (driver, argv) = match args::<4>(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    let mut transport = 0i32;
    let mut port = 0f64;
    sys::napi_get_value_int32(env, argv[1], &mut transport);
    sys::napi_get_value_double(env, argv[3], &mut port);
    let Some(ip) = string(env, argv[2]).and_then(|s| s.parse::<IpAddr>().ok()) else {
        return throw(env, "connect: ip must be an IPv4 or IPv6 literal");
    };
    if !(1.0..=65535.0).contains(&port) || port.fract() != 0.0 {
        return throw(env, "connect: port must be a whole number from 1 to 65535");
    }
    let transport = if transport == 1 { Transport::Udp } else { Transport::Tcp };
    let result = driver.engine.borrow_mut().connect(transport, SocketAddr::new(ip, port as u16));
    driver.update_ref();
    match result {
        Ok((id, spent)) => {
            let mut array = ptr::null_mut();
            sys::napi_create_array_with_length(env, 2, &mut array);
            sys::napi_set_element(env, array, 0, number(env, id as f64));
            sys::napi_set_element(env, array, 1, number(env, spent.map_or(-1.0, |us| us as f64)));
            array
        }
        Err(e) => int(env, -code_of(&e)),
    }
}

unsafe extern "C" fn send(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (driver, argv) = match args::<3>(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    let Some(id) = id_of(env, argv[1]) else { return int(env, -crate::engine::ERR_NOT_CONNECTED) };
    let mut is_typed = false;
    sys::napi_is_typedarray(env, argv[2], &mut is_typed);
    let mut kind = 0;
    let mut length = 0usize;
    let mut data = ptr::null_mut();
    if !is_typed
        || sys::napi_get_typedarray_info(env, argv[2], &mut kind, &mut length, &mut data, ptr::null_mut(), ptr::null_mut()) != OK
        || kind != sys::TypedarrayType::uint8_array
    {
        return throw(env, "send: data must be a Uint8Array");
    }
    let bytes: &[u8] = if length == 0 { &[] } else { std::slice::from_raw_parts(data.cast::<u8>(), length) };
    let Ok(mut engine) = driver.engine.try_borrow_mut() else { return throw(env, "send: engine busy") };
    match engine.send(id, bytes) {
        Ok(SendOutcome::Done) => int(env, 0),
        Ok(SendOutcome::Queued) => int(env, 1),
        Err(e) => int(env, -code_of(&e)),
    }
}

unsafe extern "C" fn recv(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (driver, argv) = match args::<2>(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    let Some(id) = id_of(env, argv[1]) else { return int(env, -crate::engine::ERR_NOT_CONNECTED) };
    let Ok(mut engine) = driver.engine.try_borrow_mut() else { return throw(env, "recv: engine busy") };
    let mut out = Vec::new();
    match engine.recv(id, &mut out) {
        Ok(RecvOutcome::Waiting) => int(env, 0),
        Ok(RecvOutcome::Data(n)) => {
            let mut copied = ptr::null_mut();
            let mut buffer = ptr::null_mut();
            sys::napi_create_buffer_copy(env, n, out.as_ptr().cast(), &mut copied, &mut buffer);
            buffer
        }
        Err(e) => int(env, -code_of(&e)),
    }
}

unsafe extern "C" fn close(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (driver, argv) = match args::<2>(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    if let Some(id) = id_of(env, argv[1]) {
        if let Ok(mut engine) = driver.engine.try_borrow_mut() {
            engine.close(id);
        }
        driver.update_ref();
    }
    ptr::null_mut()
}

unsafe extern "C" fn stats(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (driver, _) = match args::<1>(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    let s = driver.engine.borrow().stats();
    let mut array = ptr::null_mut();
    sys::napi_create_array_with_length(env, 4, &mut array);
    for (i, v) in [s.bytes_sent, s.bytes_received, s.connections_opened, s.open].into_iter().enumerate() {
        sys::napi_set_element(env, array, i as u32, number(env, v as f64));
    }
    array
}

unsafe extern "C" fn destroy_engine(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (driver, _) = match args::<1>(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    driver.shutdown();
    ptr::null_mut()
}

/// `[soft, hard, previous]` (-1 for unlimited), or -errno.
unsafe fn limit_result(env: sys::napi_env, result: std::io::Result<OpenFileLimit>) -> sys::napi_value {
    let limit = match result {
        Ok(limit) => limit,
        Err(error) => return number(env, -f64::from(error.raw_os_error().unwrap_or(libc::EINVAL))),
    };
    let mut array = ptr::null_mut();
    sys::napi_create_array_with_length(env, 3, &mut array);
    for (i, v) in [limit.soft, limit.hard, limit.previous].into_iter().enumerate() {
        sys::napi_set_element(env, array, i as u32, number(env, if v == UNLIMITED { -1.0 } else { v as f64 }));
    }
    array
}

unsafe extern "C" fn raise_open_file_limit(env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    limit_result(env, open_files::raise_open_file_limit())
}

unsafe extern "C" fn open_file_limit(env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    limit_result(env, open_files::open_file_limit())
}

unsafe fn export(env: sys::napi_env, exports: sys::napi_value, name: &CStr, cb: sys::napi_callback) -> Result<()> {
    let mut function = ptr::null_mut();
    let len = name.to_bytes().len() as isize;
    if sys::napi_create_function(env, name.as_ptr(), len, cb, ptr::null_mut(), &mut function) != OK
        || sys::napi_set_named_property(env, exports, name.as_ptr(), function) != OK
    {
        return Err(Error::new(Status::GenericFailure, format!("could not export {name:?}")));
    }
    Ok(())
}

#[napi(module_exports)]
pub fn register(exports: napi::bindgen_prelude::Object, env: Env) -> Result<()> {
    unsafe {
        export(env.raw(), exports.raw(), c"createEngine", Some(create_engine))?;
        export(env.raw(), exports.raw(), c"connect", Some(connect))?;
        export(env.raw(), exports.raw(), c"send", Some(send))?;
        export(env.raw(), exports.raw(), c"recv", Some(recv))?;
        export(env.raw(), exports.raw(), c"close", Some(close))?;
        export(env.raw(), exports.raw(), c"stats", Some(stats))?;
        export(env.raw(), exports.raw(), c"destroyEngine", Some(destroy_engine))?;
        export(env.raw(), exports.raw(), c"raiseOpenFileLimit", Some(raise_open_file_limit))?;
        export(env.raw(), exports.raw(), c"openFileLimit", Some(open_file_limit))?;
    }
    Ok(())
}
