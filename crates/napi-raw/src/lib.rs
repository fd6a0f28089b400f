//! The raw Node-API calls Stressgrid's addons make where napi-rs costs too much.
//!
//! napi-rs spends a few hundred nanoseconds on every call it dispatches (borrow
//! tracking, class identity checks): nothing for a read once a second, but more
//! than recording a histogram value or sending on loopback. So hdr-native's
//! recording calls and every netio function are plain Node-API callbacks, and
//! this crate is what they share: each unsafe call once, its status checked,
//! behind `Env` and `Value`, which carry the lifetime of the callback (or handle
//! scope) they belong to. The addons' callbacks are then safe Rust;
//! `#[napi(module_exports)]` only registers them.
//!
//! How a failure reaches JavaScript (`callback`): a bad argument is thrown with
//! the addon's own code (`ERR_HDR_ARGUMENT`, `ERR_NETIO_ARGUMENT`), an error the
//! addon names with a code of its own keeps it, and a Node-API call that fails
//! for any other reason is thrown as `ERR_NODE_API`, naming the call and its
//! status. An exception already pending is left to propagate as it is.

use std::borrow::Cow;
use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::ptr;

pub use napi::sys;

const OK: sys::napi_status = sys::Status::napi_ok;

/// Code of the error thrown when a Node-API call fails for a reason that is not the caller's.
pub const ERR_NODE_API: &CStr = c"ERR_NODE_API";

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A bad argument; thrown with the addon's argument code.
    Argument(Cow<'static, str>),
    /// Thrown with this code.
    Coded { code: &'static CStr, message: String },
    /// A Node-API call returned a status other than `napi_ok`.
    Status { call: &'static str, status: sys::napi_status },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn argument(message: impl Into<Cow<'static, str>>) -> Error {
        Error::Argument(message.into())
    }

    pub fn coded(code: &'static CStr, message: impl Into<String>) -> Error {
        Error::Coded { code, message: message.into() }
    }

    /// The code JavaScript sees, given the addon's code for bad arguments.
    pub fn code<'a>(&'a self, argument_code: &'a CStr) -> &'a CStr {
        match self {
            Error::Argument(_) => argument_code,
            Error::Coded { code, .. } => code,
            Error::Status { .. } => ERR_NODE_API,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Argument(message) => f.write_str(message),
            Error::Coded { message, .. } => f.write_str(message),
            Error::Status { call, status } => write!(f, "{call} failed: {}", status_name(*status)),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for napi::Error {
    fn from(e: Error) -> Self {
        napi::Error::new(napi::Status::GenericFailure, e.to_string())
    }
}

/// `Ok` for `napi_ok`, else the call and its status as an error.
pub fn check(call: &'static str, status: sys::napi_status) -> Result<()> {
    if status == OK {
        Ok(())
    } else {
        Err(Error::Status { call, status })
    }
}

/// The name of a `napi_status`, as js_native_api_types.h spells it.
pub fn status_name(status: sys::napi_status) -> Cow<'static, str> {
    const NAMES: [&str; 24] = [
        "napi_ok",
        "napi_invalid_arg",
        "napi_object_expected",
        "napi_string_expected",
        "napi_name_expected",
        "napi_function_expected",
        "napi_number_expected",
        "napi_boolean_expected",
        "napi_array_expected",
        "napi_generic_failure",
        "napi_pending_exception",
        "napi_cancelled",
        "napi_escape_called_twice",
        "napi_handle_scope_mismatch",
        "napi_callback_scope_mismatch",
        "napi_queue_full",
        "napi_closing",
        "napi_bigint_expected",
        "napi_date_expected",
        "napi_arraybuffer_expected",
        "napi_detachable_arraybuffer_expected",
        "napi_would_deadlock",
        "napi_no_external_buffers_allowed",
        "napi_cannot_run_js",
    ];
    match usize::try_from(status).ok().and_then(|i| NAMES.get(i)) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(format!("napi_status {status}")),
    }
}

/// A type tag for externals holding a `T`: `Env::external` trusts it to name the type.
pub struct Tag<T> {
    raw: sys::napi_type_tag,
    holds: PhantomData<fn() -> T>,
}

impl<T> Tag<T> {
    /// # Safety
    ///
    /// No tag with the same two numbers may be used with another type, in any
    /// addon of the process: an external carrying it is read as a `T`.
    pub const unsafe fn new(lower: u64, upper: u64) -> Tag<T> {
        Tag { raw: sys::napi_type_tag { lower, upper }, holds: PhantomData }
    }
}

/// Element types of the typed arrays a callback may borrow.
///
/// # Safety
///
/// `KIND` must be the `napi_typedarray_type` whose elements have the size,
/// alignment and bit validity of `Self`.
pub unsafe trait Element: Copy {
    const KIND: sys::napi_typedarray_type;
    const NAME: &'static str;
}

// SAFETY: a Uint8Array's elements are bytes.
unsafe impl Element for u8 {
    const KIND: sys::napi_typedarray_type = sys::TypedarrayType::uint8_array;
    const NAME: &'static str = "Uint8Array";
}

// SAFETY: a Float64Array's elements are IEEE 754 doubles, 8-byte aligned in their buffer.
unsafe impl Element for f64 {
    const KIND: sys::napi_typedarray_type = sys::TypedarrayType::float64_array;
    const NAME: &'static str = "Float64Array";
}

/// The environment of one running callback (or open handle scope); `'s` is that scope.
#[derive(Clone, Copy)]
pub struct Env<'s> {
    raw: sys::napi_env,
    scope: PhantomData<&'s ()>,
}

/// A JavaScript value held by the handle scope `'s`.
#[derive(Clone, Copy)]
pub struct Value<'s> {
    raw: sys::napi_value,
    scope: PhantomData<&'s ()>,
}

impl<'s> Value<'s> {
    pub fn raw(self) -> sys::napi_value {
        self.raw
    }
}

/// The arguments of a call: `values[i]` for `i >= count` is `undefined`.
pub struct Args<'s, const N: usize> {
    pub count: usize,
    pub values: [Value<'s>; N],
}

/// A Node-API function callback.
pub type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

unsafe extern "C" fn finalize_box<T>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Box<T>` that `Env::new_external::<T>` leaked for this
    // external, and Node-API finalizes an external once.
    drop(unsafe { Box::from_raw(data.cast::<T>()) });
}

impl<'s> Env<'s> {
    /// # Safety
    ///
    /// `raw` must be the environment of the Node-API callback now running on this
    /// thread, or of a handle scope open on it, and `'s` must end before that
    /// callback returns (or that scope closes): every `Value<'s>` is a handle in it.
    pub unsafe fn from_raw(raw: sys::napi_env) -> Env<'s> {
        Env { raw, scope: PhantomData }
    }

    pub fn raw(self) -> sys::napi_env {
        self.raw
    }

    /// # Safety
    ///
    /// `raw` must be a live handle of this scope (returned by Node-API during it).
    pub unsafe fn value(self, raw: sys::napi_value) -> Value<'s> {
        Value { raw, scope: PhantomData }
    }

    /// Runs one Node-API call that writes a value, and checks its status.
    fn make(self, call: &'static str, f: impl FnOnce(*mut sys::napi_value) -> sys::napi_status) -> Result<Value<'s>> {
        let mut raw = ptr::null_mut();
        check(call, f(&mut raw))?;
        // SAFETY: Node-API just returned this handle, in the scope `self` stands for.
        Ok(unsafe { self.value(raw) })
    }

    pub fn double(self, v: f64) -> Result<Value<'s>> {
        // SAFETY: `self.raw` is a live env (`from_raw`), the out pointer a local.
        self.make("napi_create_double", |out| unsafe { sys::napi_create_double(self.raw, v, out) })
    }

    pub fn int32(self, v: i32) -> Result<Value<'s>> {
        // SAFETY: as in `double`.
        self.make("napi_create_int32", |out| unsafe { sys::napi_create_int32(self.raw, v, out) })
    }

    pub fn null(self) -> Result<Value<'s>> {
        // SAFETY: as in `double`.
        self.make("napi_get_null", |out| unsafe { sys::napi_get_null(self.raw, out) })
    }

    pub fn global(self) -> Result<Value<'s>> {
        // SAFETY: as in `double`.
        self.make("napi_get_global", |out| unsafe { sys::napi_get_global(self.raw, out) })
    }

    pub fn string(self, s: &CStr) -> Result<Value<'s>> {
        let len = s.to_bytes().len() as isize;
        // SAFETY: `s` is valid for `len` bytes (a C string, read up to its NUL at most).
        self.make("napi_create_string_utf8", |out| unsafe { sys::napi_create_string_utf8(self.raw, s.as_ptr(), len, out) })
    }

    /// An array of numbers.
    pub fn numbers(self, values: &[f64]) -> Result<Value<'s>> {
        // SAFETY: as in `double`.
        let array =
            self.make("napi_create_array_with_length", |out| unsafe { sys::napi_create_array_with_length(self.raw, values.len(), out) })?;
        for (i, &v) in values.iter().enumerate() {
            let element = self.double(v)?;
            // SAFETY: both handles belong to this scope.
            check("napi_set_element", unsafe { sys::napi_set_element(self.raw, array.raw, i as u32, element.raw) })?;
        }
        Ok(array)
    }

    /// A new `Buffer` holding a copy of `bytes`.
    pub fn buffer_copy(self, bytes: &[u8]) -> Result<Value<'s>> {
        let mut copied = ptr::null_mut();
        // SAFETY: `bytes` is valid for `bytes.len()` bytes; Node copies them before returning.
        self.make("napi_create_buffer_copy", |out| unsafe {
            sys::napi_create_buffer_copy(self.raw, bytes.len(), bytes.as_ptr().cast(), &mut copied, out)
        })
    }

    /// A new `ArrayBuffer` holding a copy of `bytes`.
    pub fn array_buffer_copy(self, bytes: &[u8]) -> Result<Value<'s>> {
        let mut data = ptr::null_mut();
        // SAFETY: as in `double`; `data` receives the new buffer's memory.
        let buffer =
            self.make("napi_create_arraybuffer", |out| unsafe { sys::napi_create_arraybuffer(self.raw, bytes.len(), &mut data, out) })?;
        if !bytes.is_empty() {
            // SAFETY: Node-API allocated `bytes.len()` writable bytes at `data`, which no
            // JavaScript has seen yet, so the ranges cannot overlap.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), data.cast::<u8>(), bytes.len()) };
        }
        Ok(buffer)
    }

    /// The number `v` holds; `None` when it is not a number (the only way the call fails for a live value).
    pub fn f64(self, v: Value<'s>) -> Option<f64> {
        let mut out = 0f64;
        // SAFETY: live env and handle; the out pointer a local.
        (unsafe { sys::napi_get_value_double(self.raw, v.raw, &mut out) } == OK).then_some(out)
    }

    /// The number `v` holds as an int32 (truncated as Node-API does); `None` when it is not a number.
    pub fn i32(self, v: Value<'s>) -> Option<i32> {
        let mut out = 0i32;
        // SAFETY: as in `f64`.
        (unsafe { sys::napi_get_value_int32(self.raw, v.raw, &mut out) } == OK).then_some(out)
    }

    /// The boolean `v` holds; `None` when it is not a boolean.
    pub fn bool(self, v: Value<'s>) -> Option<bool> {
        let mut out = false;
        // SAFETY: as in `f64`.
        (unsafe { sys::napi_get_value_bool(self.raw, v.raw, &mut out) } == OK).then_some(out)
    }

    pub fn is_function(self, v: Value<'s>) -> Result<bool> {
        let mut kind = sys::ValueType::napi_undefined;
        // SAFETY: as in `f64`.
        check("napi_typeof", unsafe { sys::napi_typeof(self.raw, v.raw, &mut kind) })?;
        Ok(kind == sys::ValueType::napi_function)
    }

    /// The string `v` holds, read into `buf`; `None` when it is not a string, is
    /// not UTF-8 once encoded (lone surrogates), or does not fit (`buf.len() - 1` bytes).
    pub fn str<'b>(self, v: Value<'s>, buf: &'b mut [u8]) -> Option<&'b str> {
        let mut len = 0usize;
        // SAFETY: `buf` is writable for `buf.len()` bytes, which Node-API writes at
        // most (with the terminating NUL).
        let status = unsafe { sys::napi_get_value_string_utf8(self.raw, v.raw, buf.as_mut_ptr().cast::<c_char>(), buf.len(), &mut len) };
        // A string that filled the buffer may have been cut short.
        if status != OK || len + 1 >= buf.len() {
            return None;
        }
        std::str::from_utf8(&buf[..len]).ok()
    }

    /// The elements of `v` when it is a typed array of `T`s; `None` when it is anything else.
    ///
    /// The slice aliases JavaScript memory for the rest of the scope: no JavaScript
    /// runs during a callback unless the callback calls it, so nothing can write it or detach it.
    pub fn typed_array<T: Element>(self, v: Value<'s>) -> Option<&'s [T]> {
        let mut is_typed = false;
        // SAFETY: as in `f64`.
        if unsafe { sys::napi_is_typedarray(self.raw, v.raw, &mut is_typed) } != OK || !is_typed {
            return None;
        }
        let (mut kind, mut length, mut data) = (0, 0usize, ptr::null_mut());
        // SAFETY: `v` is a typed array; the out pointers are locals, the last two may be null.
        let status =
            unsafe { sys::napi_get_typedarray_info(self.raw, v.raw, &mut kind, &mut length, &mut data, ptr::null_mut(), ptr::null_mut()) };
        if status != OK || kind != T::KIND {
            return None;
        }
        if length == 0 {
            return Some(&[]);
        }
        // SAFETY: Node-API returned `data` as the array's first element (byte offset
        // applied) and `length` elements of type `T` (`Element`), alive while the array
        // is, which this scope's handle keeps it.
        Some(unsafe { std::slice::from_raw_parts(data.cast::<T>(), length) })
    }

    /// A new external owning `value`, tagged with `tag`; `value` is dropped when it is collected.
    pub fn new_external<T: 'static>(self, value: T, tag: &Tag<T>) -> Result<Value<'s>> {
        let data = Box::into_raw(Box::new(value)).cast::<c_void>();
        let mut raw = ptr::null_mut();
        // SAFETY: `data` is a leaked `Box<T>` that `finalize_box::<T>` reclaims once.
        let status = unsafe { sys::napi_create_external(self.raw, data, Some(finalize_box::<T>), ptr::null_mut(), &mut raw) };
        if status != OK {
            // SAFETY: the external was not created, so nothing else owns `data`.
            drop(unsafe { Box::from_raw(data.cast::<T>()) });
            return Err(Error::Status { call: "napi_create_external", status });
        }
        // SAFETY: live env, a handle just returned; the tag is copied by Node.
        // When tagging fails the untagged external still owns `value` until it is collected.
        check("napi_type_tag_object", unsafe { sys::napi_type_tag_object(self.raw, raw, &tag.raw) })?;
        // SAFETY: created just now, in this scope.
        Ok(unsafe { self.value(raw) })
    }

    /// What the external `v` holds, when `v` carries `tag`; `None` for anything else.
    pub fn external<T: 'static>(self, v: Value<'s>, tag: &Tag<T>) -> Option<&'s T> {
        let mut tagged = false;
        // SAFETY: as in `f64`; the tag is read during the call.
        if unsafe { sys::napi_check_object_type_tag(self.raw, v.raw, &tag.raw, &mut tagged) } != OK || !tagged {
            return None;
        }
        let mut data = ptr::null_mut();
        // SAFETY: as in `f64`.
        if unsafe { sys::napi_get_value_external(self.raw, v.raw, &mut data) } != OK || data.is_null() {
            return None;
        }
        // SAFETY: only `new_external::<T>` tags with a `Tag<T>` (`Tag::new`), so `data` is
        // the `Box<T>` it leaked; the external is alive while this scope's handle holds it,
        // and its finalizer (the only one to free `data`) runs after it is collected.
        Some(unsafe { &*data.cast::<T>() })
    }

    /// Defines `exports[name]` as a function calling `cb`.
    pub fn export(self, exports: Value<'s>, name: &CStr, cb: Callback) -> Result<()> {
        let len = name.to_bytes().len() as isize;
        // SAFETY: `name` is valid for `len` bytes; `cb` is a Node-API callback.
        let function = self.make("napi_create_function", |out| unsafe {
            sys::napi_create_function(self.raw, name.as_ptr(), len, Some(cb), ptr::null_mut(), out)
        })?;
        // SAFETY: live env and handles; `name` is NUL-terminated.
        check("napi_set_named_property", unsafe { sys::napi_set_named_property(self.raw, exports.raw, name.as_ptr(), function.raw) })
    }

    /// Whether a JavaScript exception is pending.
    pub fn exception_pending(self) -> Result<bool> {
        let mut pending = false;
        // SAFETY: live env; the out pointer a local.
        check("napi_is_exception_pending", unsafe { sys::napi_is_exception_pending(self.raw, &mut pending) })?;
        Ok(pending)
    }

    /// Throws `error` (see the crate's documentation for its code), unless an
    /// exception is pending already: that one is the cause and propagates.
    pub fn throw(self, argument_code: &CStr, error: &Error) -> Result<()> {
        if self.exception_pending()? {
            return Ok(());
        }
        let message = CString::new(error.to_string().replace('\0', " ")).unwrap_or_default();
        // SAFETY: live env; both strings are NUL-terminated and outlive the call.
        check("napi_throw_error", unsafe { sys::napi_throw_error(self.raw, error.code(argument_code).as_ptr(), message.as_ptr()) })
    }

    /// The arguments of the running callback.
    ///
    /// # Safety
    ///
    /// `info` must be the callback info of the callback `self` belongs to.
    unsafe fn args<const N: usize>(self, info: sys::napi_callback_info) -> Result<Args<'s, N>> {
        let mut count = N;
        let mut raw = [ptr::null_mut(); N];
        // SAFETY: `info` is this callback's (the caller's promise); `raw` has room for `count` handles.
        check("napi_get_cb_info", unsafe {
            sys::napi_get_cb_info(self.raw, info, &mut count, raw.as_mut_ptr(), ptr::null_mut(), ptr::null_mut())
        })?;
        // SAFETY: Node-API filled all N slots, the ones past the arguments with `undefined`.
        Ok(Args { count, values: raw.map(|v| unsafe { self.value(v) }) })
    }
}

/// The `extern "C"` entry point Node-API calls for `body`, a
/// `fn(Env<'s>, Args<'s, N>) -> Result<Option<Value<'s>>>` (run by `callback`),
/// as a `Callback`; errors of kind `Argument` are thrown with `argument_code`.
#[macro_export]
macro_rules! entry {
    ($argument_code:expr, $body:path) => {{
        unsafe extern "C" fn entry(env: $crate::sys::napi_env, info: $crate::sys::napi_callback_info) -> $crate::sys::napi_value {
            // SAFETY: Node-API calls this with the env and callback info of the call now running.
            unsafe { $crate::callback(env, info, $argument_code, $body) }
        }
        entry as $crate::Callback
    }};
}

/// Runs the body of a Node-API callback with its first `N` arguments, and turns
/// an error it returns into a JavaScript exception (`Env::throw`). `Ok(None)`
/// returns `undefined`.
///
/// # Safety
///
/// `env` and `info` must be the ones Node-API passed to the callback now running.
pub unsafe fn callback<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    argument_code: &CStr,
    body: impl for<'s> FnOnce(Env<'s>, Args<'s, N>) -> Result<Option<Value<'s>>>,
) -> sys::napi_value {
    // SAFETY: the env of the running callback (the caller's promise); the scope ends when this function returns.
    let env = unsafe { Env::from_raw(env) };
    // SAFETY: `info` belongs to that callback (the caller's promise).
    match unsafe { env.args::<N>(info) }.and_then(|args| body(env, args)) {
        Ok(Some(value)) => value.raw,
        Ok(None) => ptr::null_mut(),
        Err(error) => {
            // When even throwing fails the environment is being torn down: nobody is left
            // to tell, and the call returns `undefined`.
            let _thrown = env.throw(argument_code, &error);
            ptr::null_mut()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_named_as_node_names_them() {
        assert_eq!(status_name(sys::Status::napi_ok), "napi_ok");
        assert_eq!(status_name(sys::Status::napi_number_expected), "napi_number_expected");
        assert_eq!(status_name(sys::Status::napi_cannot_run_js), "napi_cannot_run_js");
        assert_eq!(status_name(99), "napi_status 99");
        assert_eq!(status_name(-1), "napi_status -1");
    }

    #[test]
    fn check_passes_ok_and_names_the_failed_call() {
        assert_eq!(check("napi_create_double", sys::Status::napi_ok), Ok(()));
        let error = check("napi_create_double", sys::Status::napi_generic_failure).unwrap_err();
        assert_eq!(error.to_string(), "napi_create_double failed: napi_generic_failure");
        assert_eq!(error.code(c"ERR_X_ARGUMENT"), ERR_NODE_API);
    }

    #[test]
    fn each_kind_of_error_is_thrown_with_its_code() {
        assert_eq!(Error::argument("bad").code(c"ERR_X_ARGUMENT"), c"ERR_X_ARGUMENT");
        assert_eq!(Error::coded(c"ERR_X_VALUE", "worse").code(c"ERR_X_ARGUMENT"), c"ERR_X_VALUE");
        assert_eq!(Error::coded(c"ERR_X_VALUE", "worse").to_string(), "worse");
    }
}
