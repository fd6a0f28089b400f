//! The recording hot path as raw Node-API functions. Every `unsafe` Node-API
//! call of the crate lives here.
//!
//! `recordValue(handle, value)` and `recordValues(handle, float64Array)` reach the
//! recorder through an external handle tagged with a type tag, so a foreign object
//! passed as the handle is refused instead of misread.

// Under `cargo test` the #[napi] registration compiles away and nothing calls these.
#![cfg_attr(test, allow(dead_code))]

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;

use napi::bindgen_prelude::Unknown;
use napi::sys;
use napi::{Env, Error, JsValue, Result, Status};
use napi_derive::napi;

use super::Shared;

const HANDLE_TAG: sys::napi_type_tag = sys::napi_type_tag { lower: 0x7374_7265_7373_6772, upper: 0x6964_2d68_6472_0001 };

unsafe extern "C" fn finalize_handle(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Box::from_raw(data.cast::<Shared>()));
}

/// Wraps a share of the recorder in a tagged external.
pub(super) fn new_handle<'env>(env: &'env Env, shared: Shared) -> Result<Unknown<'env>> {
    let data = Box::into_raw(Box::new(shared)).cast::<c_void>();
    let mut value = ptr::null_mut();
    unsafe {
        let status = sys::napi_create_external(env.raw(), data, Some(finalize_handle), ptr::null_mut(), &mut value);
        if status != sys::Status::napi_ok {
            drop(Box::from_raw(data.cast::<Shared>()));
            return Err(Error::new(Status::GenericFailure, "could not create a histogram handle"));
        }
        let status = sys::napi_type_tag_object(env.raw(), value, &HANDLE_TAG);
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::GenericFailure, "could not tag a histogram handle"));
        }
        Ok(Unknown::from_raw_unchecked(env.raw(), value))
    }
}

unsafe fn throw(env: sys::napi_env, code: &CStr, message: &str) -> sys::napi_value {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    sys::napi_throw_error(env, code.as_ptr(), message.as_ptr());
    ptr::null_mut()
}

/// The two arguments of a hot call, and the recorder its handle names.
unsafe fn args<'a>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> std::result::Result<(&'a Shared, sys::napi_value), sys::napi_value> {
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
    sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut());
    let mut tagged = false;
    if argc < 2 || sys::napi_check_object_type_tag(env, argv[0], &HANDLE_TAG, &mut tagged) != sys::Status::napi_ok || !tagged {
        return Err(throw(env, c"ERR_HDR_ARGUMENT", "the first argument must be a histogram handle"));
    }
    let mut data = ptr::null_mut();
    sys::napi_get_value_external(env, argv[0], &mut data);
    Ok((&*data.cast::<Shared>(), argv[1]))
}

unsafe extern "C" fn record_value(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (shared, arg) = match args(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    let mut value = 0f64;
    if sys::napi_get_value_double(env, arg, &mut value) != sys::Status::napi_ok {
        return throw(env, c"ERR_HDR_ARGUMENT", "value must be a number");
    }
    let Ok(mut recorder) = shared.try_borrow_mut() else {
        return throw(env, c"ERR_HDR_ARGUMENT", "histogram is in use");
    };
    match recorder.record(value) {
        Ok(()) => ptr::null_mut(),
        Err(e) => throw(env, c"ERR_HDR_VALUE", &e.to_string()),
    }
}

unsafe extern "C" fn record_values(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (shared, arg) = match args(env, info) {
        Ok(a) => a,
        Err(thrown) => return thrown,
    };
    let mut is_typed = false;
    sys::napi_is_typedarray(env, arg, &mut is_typed);
    let mut kind = 0;
    let mut length = 0usize;
    let mut data = ptr::null_mut();
    if !is_typed
        || sys::napi_get_typedarray_info(env, arg, &mut kind, &mut length, &mut data, ptr::null_mut(), ptr::null_mut())
            != sys::Status::napi_ok
        || kind != sys::TypedarrayType::float64_array
    {
        return throw(env, c"ERR_HDR_ARGUMENT", "values must be a Float64Array");
    }
    let values: &[f64] = if length == 0 { &[] } else { std::slice::from_raw_parts(data.cast::<f64>(), length) };
    let Ok(mut recorder) = shared.try_borrow_mut() else {
        return throw(env, c"ERR_HDR_ARGUMENT", "histogram is in use");
    };
    match recorder.record_all(values) {
        Ok(()) => ptr::null_mut(),
        Err((index, e)) => throw(env, c"ERR_HDR_VALUE", &format!("values[{index}]: {e}; nothing of this batch was recorded")),
    }
}

unsafe fn export(env: sys::napi_env, exports: sys::napi_value, name: &CStr, cb: sys::napi_callback) -> Result<()> {
    let mut function = ptr::null_mut();
    let len = name.to_bytes().len() as isize;
    if sys::napi_create_function(env, name.as_ptr() as *const c_char, len, cb, ptr::null_mut(), &mut function) != sys::Status::napi_ok
        || sys::napi_set_named_property(env, exports, name.as_ptr(), function) != sys::Status::napi_ok
    {
        return Err(Error::new(Status::GenericFailure, format!("could not export {name:?}")));
    }
    Ok(())
}

#[napi(module_exports)]
pub fn register_hot_path(exports: napi::bindgen_prelude::Object, env: Env) -> Result<()> {
    unsafe {
        export(env.raw(), exports.raw(), c"recordValue", Some(record_value))?;
        export(env.raw(), exports.raw(), c"recordValues", Some(record_values))?;
    }
    Ok(())
}
