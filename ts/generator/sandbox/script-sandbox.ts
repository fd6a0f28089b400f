/**
 * One script in one QuickJS runtime and context, shared by every device of
 * that script on this worker thread; each device is an async coroutine of the
 * script body. Host and guest meet at a mailbox (guest-prelude.ts): once per
 * event-loop turn the host delivers every finished operation in one call, runs
 * the jobs that wakes, and collects every new operation in one call, so the
 * ~3 µs cost of a crossing is paid per turn, not per operation.
 *
 * A device that hits a limit (CPU slice, memory, stack) or throws ends alone,
 * with a DeviceError whose code is the metric kind; the others keep running.
 */
import { createHash, createHmac, randomFillSync } from 'node:crypto';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { MetricSink } from '../metric-sink.js';
import type { HttpRequest, HttpResponse } from '../protocols/device-connection.js';
import { compileCheck, compileProblem, ScriptCompileError } from './check.js';
import type { DeviceIO } from './device-io.js';
import { GUEST_PRELUDE } from './guest-prelude.js';
import { quickJSModule } from './quickjs-module.js';
import { BinaryParts, bodyFragment } from './response-body.js';
import { SCRIPT_FILE, usedDeviceApi, wrapScript } from './script-source.js';
import { performSocket, SOCKET_RECV, SOCKET_SEND } from './socket-operations.js';
import { TimerQueue } from './timer-queue.js';
import { fetchMessage, performWebSocket, WS_OPERATIONS, type MessageAs } from './ws-operations.js';

export interface SandboxLimits {
  /** A single uninterrupted run of guest code longer than this is interrupted (`cpu_limit`). */
  cpuMsPerTurn: number;
  /** Memory cap of the runtime, shared by all its devices (`memory_limit`). */
  memoryBytes: number;
  /** Guest stack; deeper recursion is a guest error (`stack_overflow`). */
  stackBytes: number;
}

export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  cpuMsPerTurn: 200,
  memoryBytes: 256 * 1024 * 1024,
  stackBytes: 256 * 1024,
});

/** Counters that show the mailbox at work. */
export interface SandboxStats {
  /** Event-loop turns in which the sandbox ran guest code. */
  turns: number;
  /** Host-to-guest calls: deliveries, job runs, collections. */
  guestCalls: number;
  /** Guest-to-host calls: clock, randomness, hashing. */
  hostCalls: number;
  /** Host operations (requests, delays) the guest queued. */
  operations: number;
}

export interface ScriptSandboxOptions {
  /** The script: the body of an async function. */
  source: string;
  /** JSON value the script sees as `params` (deep-frozen). */
  params: unknown;
  sink: MetricSink;
  limits?: Partial<SandboxLimits>;
}

interface DeviceRecord {
  readonly id: number;
  readonly io: DeviceIO;
  readonly resolve: () => void;
  readonly reject: (error: DeviceError) => void;
}

interface Waiting {
  readonly opId: number;
  readonly device: DeviceRecord;
}

type HostOperation = [opId: number, deviceId: number, kind: string, payload: unknown];
type Collected = [ops: HostOperation[], done: unknown[][], counts: unknown[], durations: unknown[], hasBinary: 0 | 1];
type BodySpec = ['s', string] | ['b', number, number] | null;

/** Interrupt polls (each ~10,000 guest calls or loop iterations) a slice must reach before it can be cut off. */
const MIN_INTERRUPT_POLLS = 100;
const METRIC_KEY = /^[a-z][a-z0-9_]{0,63}$/;
const HTTP_METHODS = new Set<string>(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'POST', 'PUT', 'PATCH']);
const HASHES = new Set(['sha1', 'sha256', 'sha512', 'md5']);
/** Job batches start here and adapt so that a batch stays well inside one CPU slice. */
const INITIAL_JOB_BATCH = 64;
const MAX_JOB_BATCH = 1024;

export class ScriptSandbox {
  private readonly devices = new Map<number, DeviceRecord>();
  private starts: number[] = [];
  private kills: number[] = [];
  private results: string[] = [];
  private resultOwners: DeviceRecord[] = [];
  private readonly binary = new BinaryParts();
  private readonly timers = new TimerQueue<Waiting>((due) => this.onTimers(due));
  private readonly stats_: SandboxStats = { turns: 0, guestCalls: 0, hostCalls: 0, operations: 0 };
  private deadline = Infinity;
  /** Interrupt polls since the deadline was set. */
  private checks = 0;
  private jobBatch = INITIAL_JOB_BATCH;
  private scheduled = false;
  private disposed = false;
  private mailbox: QuickJSHandle | undefined;
  private turnFn: QuickJSHandle | undefined;
  private takeFn: QuickJSHandle | undefined;
  private takeBinaryFn: QuickJSHandle | undefined;

  private constructor(
    private readonly runtime: QuickJSRuntime,
    private readonly context: QuickJSContext,
    private readonly sink: MetricSink,
    private readonly limits: SandboxLimits,
  ) {
    runtime.setInterruptHandler(() => {
      this.checks++;
      const now = performance.now();
      // Wall time alone would also cut off innocent code on a starved machine (the
      // thread descheduled mid-batch); QuickJS polls this every ~10,000 calls or loop
      // iterations, so enough polls prove the guest itself was busy all along.
      if (now <= this.deadline || this.checks < MIN_INTERRUPT_POLLS) return false;
      // The next run of guest code gets a fresh slice, so only the runaway dies.
      this.arm(now + this.limits.cpuMsPerTurn);
      return true;
    });
  }

  /** Sets the deadline of the guest code about to run (Infinity: none). */
  private arm(deadline: number): void {
    this.deadline = deadline;
    this.checks = 0;
  }

  /** Compiles the script; rejects with ScriptCompileError when it does not compile. */
  static async create(opts: ScriptSandboxOptions): Promise<ScriptSandbox> {
    const limits = { ...DEFAULT_SANDBOX_LIMITS, ...opts.limits };
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`sandbox limit ${name} must be a positive number, got ${value}`);
    }
    const paramsJson = JSON.stringify(opts.params ?? {});
    const runtime = (await quickJSModule()).newRuntime();
    runtime.setMemoryLimit(limits.memoryBytes);
    runtime.setMaxStackSize(limits.stackBytes);
    const sandbox = new ScriptSandbox(runtime, runtime.newContext(), opts.sink, limits);
    try {
      sandbox.boot(opts.source, paramsJson);
    } catch (error) {
      sandbox.dispose();
      throw error;
    }
    return sandbox;
  }

  /** Runs the script as device `deviceId`; settles when the body returns or fails. */
  run(deviceId: number, io: DeviceIO): Promise<void> {
    if (this.disposed) return Promise.reject(new Error('the sandbox is disposed'));
    if (this.devices.has(deviceId)) return Promise.reject(new Error(`device ${deviceId} is already running`));
    return new Promise<void>((resolve, reject) => {
      this.devices.set(deviceId, { id: deviceId, io, resolve, reject });
      this.starts.push(deviceId);
      this.schedule();
    });
  }

  /**
   * Abandons the device wherever it is. Its run() promise never settles, the
   * results of its pending operations are dropped, and the guest lets go of
   * its coroutine at the next turn.
   */
  stop(deviceId: number): void {
    if (!this.devices.delete(deviceId)) return;
    const queued = this.starts.indexOf(deviceId);
    if (queued >= 0) this.starts.splice(queued, 1);
    else {
      this.kills.push(deviceId);
      this.schedule();
    }
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  get stats(): Readonly<SandboxStats> {
    return { ...this.stats_ };
  }

  /** Bytes the QuickJS runtime has allocated (all devices of this script). */
  guestMemoryBytes(): number {
    const handle = this.runtime.computeMemoryUsage();
    try {
      const usage = this.context.dump(handle) as { memory_used_size?: number };
      return usage.memory_used_size ?? 0;
    } finally {
      handle.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.timers.clear();
    this.devices.clear();
    for (const handle of [this.turnFn, this.takeFn, this.takeBinaryFn, this.mailbox]) handle?.dispose();
    this.context.dispose();
    this.runtime.dispose();
  }

  private boot(source: string, paramsJson: string): void {
    const ctx = this.context;
    const host = ctx.newObject();
    const fns: Array<[string, QuickJSHandle]> = [
      ['now', ctx.newFunction('now', () => this.hostCall(() => ctx.newNumber(performance.now() * 1000)))],
      ['random', ctx.newFunction('random', (n) => this.hostCall(() => ctx.newArrayBuffer(randomFillSync(new Uint8Array(ctx.getNumber(n))).buffer)))],
      ['hash', ctx.newFunction('hash', (alg, data) => this.hostCall(() => digest(ctx, createHash(hashName(ctx, alg)).update(this.bytesOf(data)).digest())))],
      [
        'hmac',
        ctx.newFunction('hmac', (alg, key, data) =>
          this.hostCall(() => digest(ctx, createHmac(hashName(ctx, alg), this.bytesOf(key)).update(this.bytesOf(data)).digest())),
        ),
      ],
      ['wsFetch', ctx.newFunction('wsFetch', (id, as) => this.wsFetch(ctx.getNumber(id), ctx.getString(as) as MessageAs))],
    ];
    for (const [name, fn] of fns) {
      ctx.setProp(host, name, fn);
      fn.dispose();
    }
    const prelude = ctx.unwrapResult(ctx.evalCode(GUEST_PRELUDE, 'prelude.js'));
    const params = ctx.newString(paramsJson);
    this.arm(performance.now() + this.limits.cpuMsPerTurn);
    const booted = ctx.callFunction(prelude, ctx.undefined, host, params);
    prelude.dispose();
    params.dispose();
    host.dispose();
    this.mailbox = ctx.unwrapResult(booted);
    this.turnFn = ctx.getProp(this.mailbox, 'turn');
    this.takeFn = ctx.getProp(this.mailbox, 'take');
    this.takeBinaryFn = ctx.getProp(this.mailbox, 'takeBinary');

    // Nothing of the script runs before it is known to be a function body and nothing else.
    const problem = compileCheck(ctx, source);
    if (problem !== null) throw new ScriptCompileError(problem);
    const compiled = ctx.evalCode(wrapScript(source), SCRIPT_FILE);
    if (compiled.error) {
      const problem = compileProblem(ctx, compiled.error, source);
      compiled.error.dispose();
      throw new ScriptCompileError(problem);
    }
    const used = ctx.newString(JSON.stringify(usedDeviceApi(source)));
    const setScript = ctx.getProp(this.mailbox, 'setScript');
    const set = ctx.callFunction(setScript, ctx.undefined, compiled.value, used);
    setScript.dispose();
    used.dispose();
    compiled.value.dispose();
    this.arm(Infinity);
    ctx.unwrapResult(set).dispose();
  }

  private hostCall(fn: () => QuickJSHandle): QuickJSHandle {
    this.stats_.hostCalls++;
    try {
      return fn();
    } catch {
      // The guest sees `undefined` and raises its own DeviceError; host errors stay on the host.
      return this.context.undefined;
    }
  }

  private bytesOf(handle: QuickJSHandle): string | Buffer {
    if (this.context.typeof(handle) === 'string') return this.context.getString(handle);
    const view = this.context.getArrayBuffer(handle);
    try {
      return Buffer.from(view.value);
    } finally {
      view.dispose();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.disposed) return;
    this.scheduled = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    if (this.disposed) return;
    this.stats_.turns++;
    if (this.results.length > 0 || this.starts.length > 0 || this.kills.length > 0) this.deliver();
    this.runJobs();
    this.collect();
  };

  private deliver(): void {
    const ctx = this.context;
    const envelope = `{"r":[${this.results.join(',')}],"k":${JSON.stringify(this.kills)},"s":${JSON.stringify(this.starts)}}`;
    const involved = [...this.resultOwners, ...this.starts.map((id) => this.devices.get(id)!)];
    this.results = [];
    this.resultOwners = [];
    this.kills = [];
    this.starts = [];
    const bytes = this.binary.byteLength > 0 ? this.binary.take() : undefined;
    const text = ctx.newString(envelope);
    const buffer = bytes === undefined ? ctx.null : ctx.newArrayBuffer(exactArrayBuffer(bytes));
    const result = this.callGuest(this.turnFn!, text, buffer);
    text.dispose();
    buffer.dispose();
    if (result === undefined) return;
    // The guest could not take this batch in (out of memory, mostly): fail its
    // devices rather than leave them waiting for results that never come.
    for (const device of involved) if (this.devices.get(device.id) === device) this.fail(device, result.code, result.message);
  }

  private runJobs(): void {
    const cpuMs = this.limits.cpuMsPerTurn;
    for (;;) {
      const started = performance.now();
      this.arm(started + cpuMs);
      const batch = this.jobBatch;
      const result = this.runtime.executePendingJobs(batch);
      this.stats_.guestCalls++;
      let executed = 1;
      if (result.error) result.error.dispose();
      else executed = result.value;
      if (executed === 0) break;
      // Jobs of many devices share one deadline, so keep a batch far below it:
      // then only a job that itself runs past the slice is interrupted.
      const elapsed = performance.now() - started;
      if (elapsed > cpuMs / 16) this.jobBatch = Math.max(1, this.jobBatch >> 1);
      else if (elapsed < cpuMs / 64 && this.jobBatch < MAX_JOB_BATCH) this.jobBatch <<= 1;
      if (!result.error && executed < batch) break;
    }
    this.arm(Infinity);
  }

  private collect(): void {
    const ctx = this.context;
    const taken = ctx.callFunction(this.takeFn!, ctx.undefined);
    this.stats_.guestCalls++;
    // Nothing is lost if this fails: the guest keeps its outbox for the next turn.
    if (taken.error) {
      taken.error.dispose();
      return;
    }
    const text = ctx.typeof(taken.value) === 'string' ? ctx.getString(taken.value) : '';
    taken.value.dispose();
    if (text === '') return;
    const [ops, done, counts, durations, hasBinary] = JSON.parse(text) as Collected;
    const binary = hasBinary === 1 ? this.takeBinary() : undefined;
    for (let i = 0; i + 1 < counts.length; i += 2) this.sink.count(String(counts[i]), Number(counts[i + 1]));
    for (let i = 0; i + 1 < durations.length; i += 2) {
      this.sink.duration(String(durations[i]), Math.max(0, Math.round(Number(durations[i + 1]))));
    }
    for (const op of ops) this.perform(op, binary);
    for (const entry of done) this.finish(entry);
  }

  private takeBinary(): Uint8Array | undefined {
    const ctx = this.context;
    const result = ctx.callFunction(this.takeBinaryFn!, ctx.undefined);
    this.stats_.guestCalls++;
    if (result.error) {
      result.error.dispose();
      return undefined;
    }
    try {
      return ctx.typeof(result.value) === 'object' ? (this.bytesOf(result.value) as Buffer) : undefined;
    } finally {
      result.value.dispose();
    }
  }

  private perform([opId, deviceId, kind, payload]: HostOperation, binary: Uint8Array | undefined): void {
    const device = this.devices.get(deviceId);
    if (device === undefined) return;
    this.stats_.operations++;
    if (kind === 'd') {
      const ms = Number(payload);
      if (ms > 0) this.timers.add(performance.now() + ms, { opId, device });
      else this.resolved(device, opId, '0');
      return;
    }
    if (WS_OPERATIONS.has(kind)) {
      const ws = device.io.ws;
      if (ws === undefined) this.rejected(device, opId, DEVICE_ERROR.wrongProtocol, 'this device does not speak WebSocket (it needs an HTTP target)');
      else this.settle(device, opId, performWebSocket(ws, kind, payload, binary, this.binary));
      return;
    }
    if (kind === SOCKET_SEND || kind === SOCKET_RECV) {
      this.settle(device, opId, performSocket(device.io.socket, kind, payload, binary, this.binary));
      return;
    }
    if (kind !== 'h') return;
    const http = device.io.http;
    if (http === undefined) {
      this.rejected(device, opId, DEVICE_ERROR.wrongProtocol, 'this device does not speak HTTP');
      return;
    }
    const [method, path, headers, body] = payload as [string, string, Array<[string, string]>, BodySpec];
    if (!HTTP_METHODS.has(method)) return;
    const request: HttpRequest = { method: method as HttpRequest['method'], path, headers };
    if (body !== null) {
      request.body = body[0] === 's' ? Buffer.from(body[1], 'utf8') : (binary ?? new Uint8Array(0)).subarray(body[1], body[1] + body[2]);
    }
    let pending: Promise<HttpResponse>;
    try {
      pending = http(request);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (response) => this.resolved(device, opId, `[${response.status},${JSON.stringify(response.headers)},${bodyFragment(response.headers, response.body, this.binary)}]`),
      (error: unknown) => this.rejected(device, opId, errorCode(error), error instanceof Error ? error.message : String(error)),
    );
  }

  private settle(device: DeviceRecord, opId: number, pending: Promise<string>): void {
    pending.then(
      (value) => this.resolved(device, opId, value),
      (error: unknown) => this.rejected(device, opId, errorCode(error), error instanceof Error ? error.message : String(error)),
    );
  }

  /** `wsFetch*`: the next buffered message (string, bytes or null), or `{code, message}` for the guest to throw. */
  private wsFetch(deviceId: number, as: MessageAs): QuickJSHandle {
    const ctx = this.context;
    this.stats_.hostCalls++;
    try {
      const message = fetchMessage(this.devices.get(deviceId)?.io.ws, as);
      if (message === null) return ctx.null;
      return typeof message === 'string' ? ctx.newString(message) : ctx.newArrayBuffer(exactArrayBuffer(message));
    } catch (error) {
      const failure = ctx.newObject();
      const code = ctx.newString(errorCode(error));
      const text = ctx.newString(error instanceof Error ? error.message : String(error));
      ctx.setProp(failure, 'code', code);
      ctx.setProp(failure, 'message', text);
      code.dispose();
      text.dispose();
      return failure;
    }
  }

  private onTimers(due: Waiting[]): void {
    for (const { opId, device } of due) this.resolved(device, opId, '0');
  }

  private resolved(device: DeviceRecord, opId: number, value: string): void {
    if (this.devices.get(device.id) !== device) return;
    this.results.push(`[${opId},1,${value}]`);
    this.resultOwners.push(device);
    this.schedule();
  }

  private rejected(device: DeviceRecord, opId: number, code: string, message: string): void {
    if (this.devices.get(device.id) !== device) return;
    this.results.push(`[${opId},0,${JSON.stringify(code)},${JSON.stringify(message)}]`);
    this.resultOwners.push(device);
    this.schedule();
  }

  private finish(entry: unknown[]): void {
    const device = this.devices.get(Number(entry[0]));
    if (device === undefined) return;
    this.devices.delete(device.id);
    if (entry.length === 1) device.resolve();
    else {
      const code = typeof entry[1] === 'string' && METRIC_KEY.test(entry[1]) ? entry[1] : DEVICE_ERROR.script;
      device.reject(new DeviceError(code, String(entry[2] ?? '')));
    }
  }

  private fail(device: DeviceRecord, code: string, message: string): void {
    this.devices.delete(device.id);
    this.kills.push(device.id);
    device.reject(new DeviceError(code, message));
    this.schedule();
  }

  /** Calls a mailbox function; returns the failure, if any, as a device error code. */
  private callGuest(fn: QuickJSHandle, ...args: QuickJSHandle[]): { code: string; message: string } | undefined {
    const ctx = this.context;
    this.arm(performance.now() + this.limits.cpuMsPerTurn);
    const result = ctx.callFunction(fn, ctx.undefined, ...args);
    this.stats_.guestCalls++;
    this.arm(Infinity);
    if (!result.error) {
      result.value.dispose();
      return undefined;
    }
    const failure = guestFailure(ctx, result.error);
    result.error.dispose();
    return failure;
  }
}

function exactArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer as ArrayBuffer;
  return bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength ? buffer : buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

function digest(ctx: QuickJSContext, bytes: Buffer): QuickJSHandle {
  return ctx.newArrayBuffer(exactArrayBuffer(bytes));
}

function hashName(ctx: QuickJSContext, handle: QuickJSHandle): string {
  const name = ctx.typeof(handle) === 'string' ? ctx.getString(handle) : '';
  if (!HASHES.has(name)) throw new Error(`unsupported hash ${name}`);
  return name;
}

function errorCode(error: unknown): string {
  if (error instanceof DeviceError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && METRIC_KEY.test(code) ? code : DEVICE_ERROR.unknown;
}

/** Reads name and message of a guest error without touching its (possibly huge) stack. */
function guestFailure(ctx: QuickJSContext, error: QuickJSHandle): { code: string; message: string } {
  const text = (key: string): string => {
    const handle = ctx.getProp(error, key);
    try {
      return ctx.typeof(handle) === 'string' ? ctx.getString(handle) : '';
    } finally {
      handle.dispose();
    }
  };
  let name = '';
  let message = '';
  try {
    name = text('name');
    message = text('message');
  } catch {
    // an error we cannot even read: counted as a script failure below
  }
  if (name === 'InternalError') {
    if (message === 'interrupted') return { code: DEVICE_ERROR.cpuLimit, message };
    if (message === 'out of memory') return { code: DEVICE_ERROR.memoryLimit, message };
    if (message === 'stack overflow') return { code: DEVICE_ERROR.stackOverflow, message };
  }
  return { code: DEVICE_ERROR.script, message: message || name || 'guest failure' };
}
