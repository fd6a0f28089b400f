//! The recording hot path as raw Node-API functions (stressgrid-napi-raw).
//!
//! `recordValue(handle, value)` and `recordValues(handle, float64Array)` reach the
//! recorder through an external handle tagged with a type tag, so a foreign object
//! passed as the handle is refused instead of misread.

// Under `cargo test` the #[napi] registration compiles away and nothing calls these.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::Unknown;
use napi::{Env, JsValue, Result};
use napi_derive::napi;
use stressgrid_napi_raw::{self as raw, Args, Error, Tag, Value};

use super::Shared;

const ARGUMENT: &std::ffi::CStr = c"ERR_HDR_ARGUMENT";
const VALUE: &std::ffi::CStr = c"ERR_HDR_VALUE";

// SAFETY: these two numbers tag nothing but histogram handles (netio's tag differs in `upper`).
const HANDLE_TAG: Tag<Shared> = unsafe { Tag::new(0x7374_7265_7373_6772, 0x6964_2d68_6472_0001) };

/// Wraps a share of the recorder in a tagged external.
pub(super) fn new_handle<'env>(env: &'env Env, shared: Shared) -> Result<Unknown<'env>> {
    // SAFETY: `env` is the env of the napi-rs call running now, and the value made here
    // is handed straight back to it.
    let value = unsafe { raw::Env::from_raw(env.raw()) }.new_external(shared, &HANDLE_TAG)?;
    // SAFETY: `value` is a live handle created in this env during this call.
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value.raw()) })
}

/// The recorder the first argument names, and the second argument.
fn recorder_and_value<'s>(env: raw::Env<'s>, args: &Args<'s, 2>) -> raw::Result<(&'s Shared, Value<'s>)> {
    match env.external(args.values[0], &HANDLE_TAG) {
        Some(shared) if args.count >= 2 => Ok((shared, args.values[1])),
        _ => Err(Error::argument("the first argument must be a histogram handle")),
    }
}

fn record_value<'s>(env: raw::Env<'s>, args: Args<'s, 2>) -> raw::Result<Option<Value<'s>>> {
    let (shared, arg) = recorder_and_value(env, &args)?;
    let value = env.f64(arg).ok_or(Error::argument("value must be a number"))?;
    let mut recorder = shared.try_borrow_mut().map_err(|_| Error::argument("histogram is in use"))?;
    recorder.record(value).map_err(|e| Error::coded(VALUE, e.to_string()))?;
    Ok(None)
}

fn record_values<'s>(env: raw::Env<'s>, args: Args<'s, 2>) -> raw::Result<Option<Value<'s>>> {
    let (shared, arg) = recorder_and_value(env, &args)?;
    let values = env.typed_array::<f64>(arg).ok_or(Error::argument("values must be a Float64Array"))?;
    let mut recorder = shared.try_borrow_mut().map_err(|_| Error::argument("histogram is in use"))?;
    recorder
        .record_all(values)
        .map_err(|(index, e)| Error::coded(VALUE, format!("values[{index}]: {e}; nothing of this batch was recorded")))?;
    Ok(None)
}

#[napi(module_exports)]
pub fn register_hot_path(exports: napi::bindgen_prelude::Object, env: Env) -> Result<()> {
    // SAFETY: napi-rs calls this while the module loads, with that call's env; nothing made here outlives it.
    let raw_env = unsafe { raw::Env::from_raw(env.raw()) };
    // SAFETY: `exports` is a live handle of this call.
    let exports = unsafe { raw_env.value(exports.raw()) };
    raw_env.export(exports, c"recordValue", raw::entry!(ARGUMENT, record_value))?;
    raw_env.export(exports, c"recordValues", raw::entry!(ARGUMENT, record_values))?;
    Ok(())
}
