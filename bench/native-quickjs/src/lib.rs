//! Measurement prototype, not part of the product: the sandbox's guest (the
//! prelude of ts/generator/sandbox/guest-prelude.ts and a device script) in
//! QuickJS compiled natively into a Node addon through `rquickjs`, with the
//! host-side operations the sandbox makes per turn: hand in the turn's results
//! (`turn`), wake one device and run the jobs that makes (`wake`, `runJobs`, or
//! both at once under the device's memory limit and CPU deadline: `slice`),
//! take the outbox (`take`). bench/native-quickjs.ts drives it beside the
//! WebAssembly build on the same sequence of wake-ups.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rquickjs::{qjs, Context, Ctx, Function, Object, Persistent, Runtime, Value};

/// Byte offset of `malloc_state.malloc_size` in quickjs-ng's `struct JSRuntime`:
/// after `JSMallocFunctions mf` (five pointers) and `malloc_count`. QuickJS keeps
/// the count there on every allocation (real usable sizes natively); reading it
/// is a load, where `JS_ComputeMemoryUsage` walks the heap. Checked against
/// `JS_ComputeMemoryUsage` when the engine is created.
const MALLOC_SIZE_OFFSET: usize = 6 * std::mem::size_of::<usize>();

/// Interrupt polls a run of guest code must reach before its deadline can cut it
/// off (the sandbox's MIN_INTERRUPT_POLLS: proof the guest itself was busy).
const MIN_INTERRUPT_POLLS: u64 = 100;

struct Deadline {
  at: Cell<Option<Instant>>,
  /// Polls since the deadline was set.
  armed_polls: Cell<u64>,
  polls: Cell<u64>,
  interrupts: Cell<u64>,
}

#[napi]
pub struct NativeEngine {
  rt: Runtime,
  ctx: Context,
  raw: *mut qjs::JSRuntime,
  mailbox: Option<Mailbox>,
  deadline: Rc<Deadline>,
  cpu_ms: f64,
  last_error: Option<String>,
}

struct Mailbox {
  turn: Persistent<Function<'static>>,
  wake: Persistent<Function<'static>>,
  take: Persistent<Function<'static>>,
  set_script: Persistent<Function<'static>>,
}

fn err(e: impl std::fmt::Display) -> Error {
  Error::from_reason(e.to_string())
}

/// "Name: message" of the pending exception (what the sandbox classifies errors by).
fn describe(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
  if !matches!(error, rquickjs::Error::Exception) {
    return format!("HostError: {error}");
  }
  let value = ctx.catch();
  if let Some(object) = value.as_object() {
    let name: Option<String> = object.get("name").ok();
    let message: Option<String> = object.get("message").ok();
    return format!("{}: {}", name.unwrap_or_default(), message.unwrap_or_default());
  }
  format!("thrown: {value:?}")
}

fn text_or_null<'js>(ctx: &Ctx<'js>, s: Option<String>) -> rquickjs::Result<Value<'js>> {
  match s {
    None => Ok(Value::new_null(ctx.clone())),
    Some(s) => Ok(rquickjs::String::from_str(ctx.clone(), &s)?.into_value()),
  }
}

#[napi]
impl NativeEngine {
  /// A runtime and context with the prelude evaluated and called with stub host
  /// functions (randomness, hashing and wsFetch are never called by the bench's scripts).
  #[napi(constructor)]
  pub fn new(prelude: String, params_json: String, stack_bytes: u32, cpu_ms: f64) -> Result<Self> {
    let rt = Runtime::new().map_err(err)?;
    rt.set_max_stack_size(stack_bytes as usize);
    // Cycles are collected by the host between slices (runGc), never inside one, as in the sandbox.
    rt.set_gc_threshold(usize::MAX);
    let deadline = Rc::new(Deadline { at: Cell::new(None), armed_polls: Cell::new(0), polls: Cell::new(0), interrupts: Cell::new(0) });
    let handler_deadline = deadline.clone();
    rt.set_interrupt_handler(Some(Box::new(move || {
      let d = &handler_deadline;
      d.polls.set(d.polls.get() + 1);
      d.armed_polls.set(d.armed_polls.get() + 1);
      match d.at.get() {
        Some(at) if d.armed_polls.get() >= MIN_INTERRUPT_POLLS && Instant::now() > at => {
          d.interrupts.set(d.interrupts.get() + 1);
          d.at.set(None);
          true
        }
        _ => false,
      }
    })));
    let ctx = Context::full(&rt).map_err(err)?;
    let raw = ctx.with(|ctx| unsafe { qjs::JS_GetRuntime(ctx.as_raw().as_ptr()) });
    let mut engine = NativeEngine { rt, ctx, raw, mailbox: None, deadline, cpu_ms, last_error: None };
    let mailbox = engine
      .ctx
      .with(|ctx| -> std::result::Result<Mailbox, String> {
        let boot = || -> rquickjs::Result<Mailbox> {
          let host: Object = ctx.eval("({ random() {}, hash() {}, hmac() {}, wsFetch() { return null; } })")?;
          let prelude: Function = ctx.eval(prelude.as_bytes().to_vec())?;
          let mailbox: Object = prelude.call((host, params_json.as_str()))?;
          let get = |name: &str| -> rquickjs::Result<Persistent<Function<'static>>> {
            let f: Function = mailbox.get(name)?;
            Ok(Persistent::save(&ctx, f))
          };
          Ok(Mailbox { turn: get("turn")?, wake: get("wake")?, take: get("take")?, set_script: get("setScript")? })
        };
        boot().map_err(|e| describe(&ctx, e))
      })
      .map_err(err)?;
    engine.mailbox = Some(mailbox);
    let counted = engine.held_bytes();
    let computed = engine.rt.memory_usage().malloc_size as f64;
    if (counted - computed).abs() > computed * 0.01 + 4096.0 {
      return Err(err(format!("malloc_size at the assumed offset reads {counted}, JS_ComputeMemoryUsage says {computed}")));
    }
    Ok(engine)
  }

  fn mailbox(&self) -> &Mailbox {
    self.mailbox.as_ref().expect("booted")
  }

  /// Compiles the wrapped script (script-source.ts's wrapScript) and hands it to the mailbox.
  #[napi]
  pub fn set_script(&self, wrapped: String, used_json: String) -> Result<()> {
    let set = self.mailbox().set_script.clone();
    self
      .ctx
      .with(|ctx| {
        let run = || -> rquickjs::Result<()> {
          let script: Function = ctx.eval(wrapped.as_bytes().to_vec())?;
          set.restore(&ctx)?.call::<_, ()>((script, used_json.as_str()))
        };
        run().map_err(|e| describe(&ctx, e))
      })
      .map_err(err)
  }

  /// `mailbox.turn(results, kills, starts, null)`; the failure as "Name: message", if any.
  #[napi]
  pub fn turn(&self, results: Option<String>, kills: Option<String>, starts: Option<String>) -> Option<String> {
    let turn = self.mailbox().turn.clone();
    self.arm(self.cpu_ms);
    let out = self.ctx.with(|ctx| {
      let run = || -> rquickjs::Result<()> {
        let args = (text_or_null(&ctx, results)?, text_or_null(&ctx, kills)?, text_or_null(&ctx, starts)?, Value::new_null(ctx.clone()));
        turn.restore(&ctx)?.call::<_, ()>(args)
      };
      run().err().map(|e| describe(&ctx, e))
    });
    self.disarm();
    out
  }

  /// `mailbox.wake(id)` alone.
  #[napi]
  pub fn wake(&self, id: u32) -> Option<String> {
    let wake = self.mailbox().wake.clone();
    self.arm(self.cpu_ms);
    let out = self.ctx.with(|ctx| wake.restore(&ctx).and_then(|f| f.call::<_, ()>((id,))).err().map(|e| describe(&ctx, e)));
    self.disarm();
    out
  }

  /// Runs up to `max` pending jobs (all when negative) under one CPU deadline; returns how many ran.
  #[napi]
  pub fn run_jobs(&self, max: i32) -> u32 {
    self.arm(self.cpu_ms);
    let ran = self.jobs(max);
    self.disarm();
    ran
  }

  fn jobs(&self, max: i32) -> u32 {
    let mut ran = 0u32;
    while max < 0 || (ran as i32) < max {
      match self.rt.execute_pending_job() {
        Ok(true) => ran += 1,
        Ok(false) => break,
        // A job's exception is the device's: the prelude turns it into an outbox entry.
        Err(_) => ran += 1,
      }
    }
    ran
  }

  /// One device's slice as the sandbox runs it: the runtime's memory limit set to
  /// `limit_bytes` (absolute), `wake(id)`, every job that makes, the limit lifted.
  /// Returns the bytes the runtime holds afterwards, or -1 when the wake call
  /// failed (lastError says why).
  #[napi]
  pub fn slice(&mut self, id: u32, limit_bytes: f64) -> f64 {
    self.rt.set_memory_limit(limit_bytes as usize);
    let failure = self.wake(id);
    if failure.is_none() {
      self.arm(self.cpu_ms);
      self.jobs(-1);
      self.disarm();
    }
    self.rt.set_memory_limit(0);
    match failure {
      None => self.held_bytes(),
      Some(e) => {
        self.last_error = Some(e);
        -1.0
      }
    }
  }

  #[napi]
  pub fn last_error(&self) -> Option<String> {
    self.last_error.clone()
  }

  /// `mailbox.take()`: the outbox as lines of text ('' when empty).
  #[napi]
  pub fn take(&self) -> String {
    let take = self.mailbox().take.clone();
    self.ctx.with(|ctx| match take.restore(&ctx).and_then(|f| f.call::<_, rquickjs::String>(())) {
      Ok(s) => s.to_string().unwrap_or_default(),
      Err(_) => String::new(),
    })
  }

  /// Bytes the runtime holds, as QuickJS counts them on each allocation (a load, no heap walk).
  #[napi]
  pub fn held_bytes(&self) -> f64 {
    unsafe { *((self.raw as *const u8).add(MALLOC_SIZE_OFFSET) as *const usize) as f64 }
  }

  /// `JS_ComputeMemoryUsage`: malloc_size and memory_used_size (walks the heap).
  #[napi]
  pub fn computed_memory(&self) -> Vec<f64> {
    let usage = self.rt.memory_usage();
    vec![usage.malloc_size as f64, usage.memory_used_size as f64]
  }

  /// 0: no limit.
  #[napi]
  pub fn set_memory_limit(&self, bytes: f64) {
    self.rt.set_memory_limit(bytes as usize);
  }

  #[napi]
  pub fn set_max_stack_size(&self, bytes: u32) {
    self.rt.set_max_stack_size(bytes as usize);
  }

  #[napi]
  pub fn run_gc(&self) {
    self.rt.run_gc();
  }

  /// Interrupt-handler polls so far, and how many of them interrupted.
  #[napi]
  pub fn interrupt_stats(&self) -> Vec<f64> {
    vec![self.deadline.polls.get() as f64, self.deadline.interrupts.get() as f64]
  }

  /// Evaluates `code` under a CPU deadline of `cpu_ms` (no deadline when 0) and
  /// the limits set; returns the result as a string, or "!Name: message".
  #[napi]
  pub fn eval(&self, code: String, cpu_ms: f64) -> String {
    if cpu_ms > 0.0 {
      self.arm(cpu_ms);
    }
    let out = self.ctx.with(|ctx| match ctx.eval::<Value, _>(code.into_bytes()) {
      Ok(v) => match v.as_string() {
        Some(s) => s.to_string().unwrap_or_default(),
        None => format!("{v:?}"),
      },
      Err(e) => format!("!{}", describe(&ctx, e)),
    });
    self.disarm();
    out
  }

  fn arm(&self, ms: f64) {
    self.deadline.at.set(Some(Instant::now() + std::time::Duration::from_secs_f64(ms / 1000.0)));
    self.deadline.armed_polls.set(0);
  }

  fn disarm(&self) {
    self.deadline.at.set(None);
  }
}

impl Drop for NativeEngine {
  fn drop(&mut self) {
    // Persistent handles must go before the runtime.
    self.mailbox = None;
  }
}
