/**
 * One script in one QuickJS runtime and context, shared by every device of
 * that script on this worker thread; each device is an async coroutine of the
 * script body. Host and guest meet at a mailbox (guest/prelude.ts): once per
 * event-loop turn the host delivers every finished operation in one call, runs
 * the jobs that wakes, and collects every new operation in one call, so the
 * ~3 µs cost of a crossing is paid per turn, not per operation.
 *
 * A device that hits a limit (CPU slice, memory, stack) or throws ends alone,
 * with a DeviceError whose code is the metric kind; the others keep running.
 */
import { createHash, createHmac, randomFillSync } from 'node:crypto';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten';
import { DEVICE_ERROR, DeviceError, LIMIT_ERRORS } from '../../shared/errors.js';
import { BLOCK_LIMIT_DEFAULTS, type BlockLimits } from '../../shared/plan.js';
import type { MetricSink } from '../metric-sink.js';
import { compileCheck, compileProblem, ScriptCompileError } from '../../shared/script/check.js';
import type { DeviceIO } from './device-io.js';
import { GUEST_PRELUDE } from './guest-prelude.js';
import { HTTP_OPERATIONS, httpRequest, performHttp } from './http-operations.js';
import { HASH_ALGORITHMS, METRIC_KEY, OPERATION, OUTBOX, ResultBatch, type MessageAs } from './mailbox.js';
import { NO_LIMIT, type HeapAccounting } from '../../shared/script/heap-accounting.js';
import { quickJS } from '../../shared/script/quickjs-module.js';
import { BinaryParts } from './response-body.js';
import { SCRIPT_FILE, usedDeviceApi, wrapScript } from '../../shared/script/script-source.js';
import { performSocket, SOCKET_OPERATIONS } from './socket-operations.js';
import { serveStopOrders } from '../stop-orders.js';
import { TimerQueue } from './timer-queue.js';
import { fetchMessage, performWebSocket, WS_OPERATIONS } from './ws-operations.js';

export interface SandboxLimits {
  /** One device's uninterrupted run of code longer than this is interrupted (`cpu_limit`). */
  cpuMsPerTurn: number;
  /** Bytes one device's own allocations may hold (`memory_limit`). */
  memoryBytes: number;
  /** Guest stack; deeper recursion is a guest error (`stack_overflow`). */
  stackBytes: number;
}

export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = sandboxLimits(BLOCK_LIMIT_DEFAULTS);

/** A plan block's limits in the sandbox's units. */
export function sandboxLimits(limits: Required<BlockLimits>): SandboxLimits {
  return Object.freeze({ cpuMsPerTurn: limits.cpuMs, memoryBytes: limits.memoryMb * 1024 * 1024, stackBytes: limits.stackKb * 1024 });
}

/** Counters that show the mailbox at work. */
export interface SandboxStats {
  /** Event-loop turns in which the sandbox ran guest code. */
  turns: number;
  /** Host-to-guest calls: deliveries, job runs, collections. */
  guestCalls: number;
  /** Guest-to-host calls: randomness, hashing, wsFetch (timings need none: results carry host timestamps). */
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
  /** Bytes of the runtime charged to this device: what its own code allocated and still holds. */
  held: number;
  /** Long slices in a row (HEAVY_SLICE_MS); from HEAVY_STREAK on it waits for the thread's heavy share. */
  longSlices: number;
  /** It has had a slice: its start is behind it. */
  ran: boolean;
}

interface Waiting {
  readonly opId: number;
  readonly device: DeviceRecord;
  /** When the operation left the guest (µs, performance.now()). */
  readonly sent: number;
}

/** An operation from the outbox; `payload` is the text after the device id (see guest/prelude.ts). */
interface HostOperation {
  opId: number;
  deviceId: number;
  /** Outbox tag: the operation kind (mailbox.ts OPERATION). */
  tag: string;
  payload: string;
}

/**
 * This thread's CPU time in ms (user and system), where Node can tell it
 * (process.threadCpuUsage); undefined on a Node without it, where the CPU limit
 * is the slice's wall time.
 */
const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.bind(process);
function threadCpuMs(): number | undefined {
  if (threadCpuUsage === undefined) return undefined;
  const { user, system } = threadCpuUsage();
  return (user + system) / 1000;
}

/** Interrupt polls (each ~10,000 guest calls or loop iterations) a slice must reach before it can be cut off. */
const MIN_INTERRUPT_POLLS = 100;
const HASHES: ReadonlySet<string> = new Set(HASH_ALGORITHMS);
/** Job batches start here and adapt so that a batch stays well inside one CPU slice. */
const INITIAL_JOB_BATCH = 64;
const MAX_JOB_BATCH = 1024;
/** The host collects cycles once the runtime has grown by half since the last collection, and at least by this. */
const MIN_GC_GROWTH_BYTES = 4 * 1024 * 1024;
/**
 * HEAVY_STREAK slices in a row longer than this mark a device heavy until it
 * runs a shorter one. One long slice is no sign (a cold start, the thread
 * preempted on a busy machine); a leaker's or a spinner's are long one after another.
 */
const HEAVY_SLICE_MS = 8;
const HEAVY_STREAK = 2;
/**
 * Share of this thread's time heavy slices may take, all sandboxes together:
 * after a heavy slice of d ms the next one (of any device here) waits 19·d, so
 * light devices beside a leaker or a spinner keep their pace.
 */
const HEAVY_SHARE = 0.05;
/**
 * The share after a device's first heavy slice, when nothing it did before
 * marked it heavy: larger, so that every device of a script that leaks in
 * one long slice per run still reaches its limit (and is counted) soon,
 * while its later runs take no more than HEAVY_SHARE.
 */
const FIRST_HEAVY_SHARE = 0.2;
/** Per thread (module state is per worker thread): when the next heavy slice may start. */
let heavyNotBefore = 0;
/**
 * The heavy share holds only while light devices are about: a short slice ran
 * on this thread within this window. Alone (a script that computes a lot in
 * every device), heavy devices take the whole thread.
 */
const LIGHT_WINDOW_MS = 1000;
/** Per thread: when the last short slice ended. */
let lightSliceAt = -Infinity;
/** Guest time one turn of a sandbox may take before its remaining devices wait for the next turn. */
const PUMP_BUDGET_MS = 10;
/** How often charges are checked against what the runtime really holds. */
const RECONCILE_MS = 1000;

export class ScriptSandbox {
  private readonly devices = new Map<number, DeviceRecord>();
  /** Devices to start at the next turn: an id, or [id, intended start in µs] for an arrival-rate iteration. */
  private starts: Array<number | [number, number]> = [];
  /** Devices woken by the guest's last delivery whose slices did not fit in the last turn. */
  private deferred: DeviceRecord[] = [];
  private heavyTimer: NodeJS.Timeout | undefined;
  private kills: number[] = [];
  /** Results for the next turn, in the order they came, and the device of each. */
  private readonly results = new ResultBatch();
  private resultOwners: DeviceRecord[] = [];
  private readonly binary = new BinaryParts();
  private readonly timers = new TimerQueue<Waiting>((due, now) => this.onTimers(due, now));
  private readonly stats_: SandboxStats = { turns: 0, guestCalls: 0, hostCalls: 0, operations: 0 };
  private deadline = Infinity;
  /** For a deadline that counts CPU (see arm): its budget in ms, and this thread's CPU (threadCpuMs) when it was set. */
  private armedBudget = 0;
  private armedCpu: number | undefined;
  /** Interrupt polls since the deadline was set. */
  private checks = 0;
  private jobBatch = INITIAL_JOB_BATCH;
  private scheduled = false;
  private disposed = false;
  private mailbox: QuickJSHandle | undefined;
  private turnFn: QuickJSHandle | undefined;
  private takeFn: QuickJSHandle | undefined;
  private takeBinaryFn: QuickJSHandle | undefined;
  private wakeFn: QuickJSHandle | undefined;
  /** JSRuntime pointer, for the accounting allocator's fields. */
  private readonly rt: number;
  /** Bytes the runtime holds with no device running: the prelude and the script. */
  private baseline = 0;
  private gcAt = 0;
  private reconciledAt = 0;
  /**
   * The last device of this script to end ended on a limit: devices that have
   * not had a slice yet wait for the thread's heavy share before their first,
   * so a script that leaks or spins in one long slice per run does not take the
   * thread once for every device that starts it.
   */
  private suspect = false;

  private constructor(
    private readonly runtime: QuickJSRuntime,
    private readonly context: QuickJSContext,
    private readonly heap: HeapAccounting,
    private readonly sink: MetricSink,
    private readonly limits: SandboxLimits,
  ) {
    this.rt = (runtime as unknown as { rt: { value: number } }).rt.value;
    const usage = runtime.computeMemoryUsage();
    const held = (context.dump(usage) as { memory_used_size?: number }).memory_used_size ?? 0;
    usage.dispose();
    heap.install(this.rt, held);
    // Cycles are collected between device slices, never inside one (see collectGarbage).
    heap.setGcThreshold(this.rt, NO_LIMIT);
    runtime.setInterruptHandler(() => {
      this.checks++;
      const now = performance.now();
      // Wall time alone would also cut off innocent code on a starved machine (the
      // thread descheduled mid-batch); QuickJS polls this every ~10,000 calls or loop
      // iterations, so enough polls prove the guest itself was busy all along.
      if (now <= this.deadline || this.checks < MIN_INTERRUPT_POLLS) return false;
      // The limit is the device's CPU: time the thread spent descheduled (another
      // process, a busy machine) does not count, so the check comes again when the
      // rest of the budget is spent. (The kernel's count of a running thread's CPU
      // may lag a tick: the check only ever comes again, never cuts sooner.)
      if (this.armedCpu !== undefined) {
        const owed = this.armedBudget - (threadCpuMs()! - this.armedCpu);
        if (owed > 0) {
          this.deadline = now + owed;
          return false;
        }
      }
      // The next run of guest code gets a fresh slice, so only the runaway dies.
      this.arm(now + this.limits.cpuMsPerTurn);
      return true;
    });
  }

  /**
   * Sets the deadline of the guest code about to run (Infinity: none). With
   * `cpu`, where the script's own code runs (a device's slice, jobs), the
   * deadline is a budget of this thread's CPU, checked when the wall clock
   * reaches it; reading that clock is a system call, so the mailbox's own calls
   * (whose code is ours) keep a wall-clock deadline.
   */
  private arm(deadline: number, cpu = false): void {
    this.deadline = deadline;
    this.checks = 0;
    this.armedCpu = cpu && deadline !== Infinity ? threadCpuMs() : undefined;
    if (this.armedCpu !== undefined) this.armedBudget = deadline - performance.now();
  }

  /** Compiles the script; rejects with ScriptCompileError when it does not compile. */
  static async create(opts: ScriptSandboxOptions): Promise<ScriptSandbox> {
    const limits = { ...DEFAULT_SANDBOX_LIMITS, ...opts.limits };
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`sandbox limit ${name} must be a positive number, got ${value}`);
    }
    const paramsJson = JSON.stringify(opts.params ?? {});
    const { module, heap } = await quickJS();
    const runtime = module.newRuntime();
    runtime.setMaxStackSize(limits.stackBytes);
    const sandbox = new ScriptSandbox(runtime, runtime.newContext(), heap, opts.sink, limits);
    try {
      sandbox.boot(opts.source, paramsJson);
    } catch (error) {
      sandbox.dispose();
      throw error;
    }
    return sandbox;
  }

  /**
   * Runs the script as device `deviceId`; settles when the body returns or fails.
   * `intendedStartUs` (this thread's performance.now() in µs) marks an iteration of
   * an arrival-rate block: each of its timings then also records its `_intended`
   * twin, measured from that instant. `heavy` marks a device whose last run ended
   * on a limit: its slices take the thread's heavy share from the first, so a
   * script that leaks or spins to its limit every run costs its neighbours no
   * more on its second life than on its tenth.
   */
  run(deviceId: number, io: DeviceIO, intendedStartUs?: number, heavy = false): Promise<void> {
    if (this.disposed) return Promise.reject(new Error('the sandbox is disposed'));
    if (this.devices.has(deviceId)) return Promise.reject(new Error(`device ${deviceId} is already running`));
    return new Promise<void>((resolve, reject) => {
      this.devices.set(deviceId, { id: deviceId, io, resolve, reject, held: 0, longSlices: heavy ? HEAVY_STREAK : 0, ran: false });
      this.starts.push(intendedStartUs === undefined ? deviceId : [deviceId, intendedStartUs]);
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
    const queued = this.starts.findIndex((start) => (typeof start === 'number' ? start : start[0]) === deviceId);
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

  /** Bytes the QuickJS runtime holds (all devices of this script), counted by the accounting allocator. */
  guestMemoryBytes(): number {
    return this.heap.size(this.rt);
  }

  /** Bytes charged to one device (undefined when it is not running). */
  deviceMemoryBytes(deviceId: number): number | undefined {
    return this.devices.get(deviceId)?.held;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.timers.clear();
    this.devices.clear();
    clearTimeout(this.heavyTimer);
    for (const handle of [this.turnFn, this.takeFn, this.takeBinaryFn, this.wakeFn, this.mailbox]) handle?.dispose();
    this.context.dispose();
    this.runtime.dispose();
  }

  private boot(source: string, paramsJson: string): void {
    const ctx = this.context;
    const host = ctx.newObject();
    const fns: Array<[string, QuickJSHandle]> = [
      ['random', ctx.newFunction('random', (n) => this.hostCall(() => ctx.newArrayBuffer(randomFillSync(new Uint8Array(ctx.getNumber(n))).buffer)))],
      ['hash', ctx.newFunction('hash', (alg, data) => this.hostCall(() => digest(ctx, createHash(hashName(ctx, alg)).update(this.bytesOf(data)).digest())))],
      ['hmac', ctx.newFunction('hmac', (alg, key, data) => this.hostCall(() => digest(ctx, createHmac(hashName(ctx, alg), this.bytesOf(key)).update(this.bytesOf(data)).digest())))],
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
    this.wakeFn = ctx.getProp(this.mailbox, 'wake');

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
    this.baseline = this.heap.size(this.rt);
    this.gcAt = this.baseline + MIN_GC_GROWTH_BYTES;
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
    // Devices the ramp has stopped must not run another step (stop-orders.ts).
    serveStopOrders();
    if (this.disposed) return;
    // Long delays due by now wake in this turn rather than in one of their own
    // (still marked scheduled, so their results ask for no second turn).
    this.timers.takeDue(performance.now());
    this.scheduled = false;
    this.stats_.turns++;
    const delivered = this.results.length > 0 || this.starts.length > 0 || this.kills.length > 0 ? this.deliver() : [];
    const woken = this.deferred.length > 0 ? [...this.deferred, ...delivered] : delivered;
    this.deferred = [];
    const started = performance.now();
    for (let i = 0; i < woken.length; i++) {
      const device = woken[i]!;
      const now = performance.now();
      // Past the budget the rest wait for the next turn, after every other
      // sandbox of this thread has had its own.
      if (i > 0 && now - started > PUMP_BUDGET_MS) {
        this.deferred.push(...woken.slice(i));
        this.schedule();
        break;
      }
      const heavy = device.longSlices >= HEAVY_STREAK || (this.suspect && !device.ran);
      if (heavy && now < heavyNotBefore && now - lightSliceAt < LIGHT_WINDOW_MS) {
        this.deferred.push(device);
        this.wakeForHeavy(heavyNotBefore - now);
        continue;
      }
      this.slice(device);
    }
    this.runJobs();
    this.collect();
    this.collectGarbage();
  };

  private wakeForHeavy(ms: number): void {
    if (this.heavyTimer !== undefined) return;
    this.heavyTimer = setTimeout(() => {
      this.heavyTimer = undefined;
      this.schedule();
    }, Math.ceil(ms));
  }

  /**
   * Runs one device alone: wakes it (its results, or its start) and runs the
   * jobs that makes, under its own CPU slice and with the runtime's memory
   * limit set to what the device has left. What the runtime holds more after
   * the slice is charged to the device; a refused allocation ends it with
   * `memory_limit`, whatever the script made of the error.
   */
  private slice(device: DeviceRecord): void {
    if (this.devices.get(device.id) !== device) return;
    const heap = this.heap;
    const before = heap.size(this.rt);
    heap.setLimit(this.rt, before + Math.max(0, this.limits.memoryBytes - device.held));
    heap.takeRefusal(this.rt);
    device.ran = true;
    const knownHeavy = device.longSlices >= HEAVY_STREAK;
    const started = performance.now();
    const id = this.context.newNumber(device.id);
    const failure = this.callGuest(this.wakeFn!, id);
    id.dispose();
    if (failure === undefined) {
      // One deadline for the whole slice, however many jobs it takes.
      this.arm(started + this.limits.cpuMsPerTurn, true);
      for (;;) {
        const result = this.runtime.executePendingJobs(-1);
        this.stats_.guestCalls++;
        if (!result.error) break;
        result.error.dispose();
      }
      this.arm(Infinity);
    }
    const ended = performance.now();
    heap.setLimit(this.rt, NO_LIMIT);
    const refused = heap.takeRefusal(this.rt);
    const long = ended - started > HEAVY_SLICE_MS;
    device.longSlices = long ? device.longSlices + 1 : 0;
    if (!long) lightSliceAt = ended;
    // A long slice that ended on a limit is as heavy as a streak of long ones.
    const limited = refused || (failure !== undefined && LIMIT_ERRORS.has(failure.code));
    if (device.longSlices >= HEAVY_STREAK || (long && limited)) {
      const share = knownHeavy ? HEAVY_SHARE : FIRST_HEAVY_SHARE;
      heavyNotBefore = Math.max(heavyNotBefore, ended + ((ended - started) * (1 - share)) / share);
    }
    device.held = Math.max(0, device.held + heap.size(this.rt) - before);
    if (this.devices.get(device.id) !== device) return;
    if (refused) this.fail(device, DEVICE_ERROR.memoryLimit, `the device held more than its ${Math.round(this.limits.memoryBytes / 1048576)} MiB`);
    else if (failure !== undefined) this.fail(device, failure.code, failure.message);
  }

  /**
   * Collects cycles between slices, so no device pays for another's garbage,
   * and lowers the charges when devices are charged more than the runtime
   * holds (memory a device allocated and something else freed: its results
   * taken by the host, cycles collected here).
   */
  private collectGarbage(): void {
    const heap = this.heap;
    if (heap.size(this.rt) > this.gcAt) {
      heap.setGcThreshold(this.rt, 0);
      this.context.newObject().dispose();
      heap.setGcThreshold(this.rt, NO_LIMIT);
      const after = heap.size(this.rt);
      this.gcAt = Math.max(after * 1.5, after + MIN_GC_GROWTH_BYTES);
      this.reconcile();
      return;
    }
    const now = performance.now();
    if (now - this.reconciledAt >= RECONCILE_MS) this.reconcile();
  }

  private reconcile(): void {
    this.reconciledAt = performance.now();
    let charged = 0;
    for (const device of this.devices.values()) charged += device.held;
    const held = Math.max(0, this.heap.size(this.rt) - this.baseline);
    if (charged <= held || charged === 0) return;
    const scale = held / charged;
    for (const device of this.devices.values()) device.held *= scale;
  }

  /** Hands the guest this turn's results, starts and kills; returns the devices to wake, in order. */
  private deliver(): DeviceRecord[] {
    const ctx = this.context;
    const involved = [...this.resultOwners, ...this.starts.map((start) => this.devices.get(typeof start === 'number' ? start : start[0])!)];
    const results = this.results.length === 0 ? ctx.null : ctx.newString(this.results.take());
    const kills = this.kills.length === 0 ? ctx.null : ctx.newString(JSON.stringify(this.kills));
    const starts = this.starts.length === 0 ? ctx.null : ctx.newString(JSON.stringify([nowUs(), ...this.starts]));
    this.resultOwners = [];
    this.kills = [];
    this.starts = [];
    const bytes = this.binary.byteLength > 0 ? this.binary.take() : undefined;
    const buffer = bytes === undefined ? ctx.null : ctx.newArrayBuffer(exactArrayBuffer(bytes));
    const result = this.callGuest(this.turnFn!, results, kills, starts, buffer);
    for (const handle of [results, kills, starts, buffer]) handle.dispose();
    if (result === undefined) return [...new Set(involved)];
    // The guest could not take this batch in: fail its devices rather than
    // leave them waiting for results that never come.
    for (const device of involved) if (this.devices.get(device.id) === device) this.fail(device, result.code, result.message);
    return [];
  }

  private runJobs(): void {
    const cpuMs = this.limits.cpuMsPerTurn;
    for (;;) {
      const started = performance.now();
      this.arm(started + cpuMs, true);
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
    const ops: HostOperation[] = [];
    const done: string[] = [];
    let hasBinary = false;
    for (const line of text.split('\n')) {
      if (line === OUTBOX.binary) {
        hasBinary = true;
        continue;
      }
      const tag = line.slice(0, line.indexOf(','));
      switch (tag) {
        case OUTBOX.count:
        case OUTBOX.timing: {
          const comma = line.lastIndexOf(',');
          const key = line.slice(2, comma);
          const value = Number(line.slice(comma + 1));
          if (tag === OUTBOX.count) this.sink.count(key, value);
          else this.sink.duration(key, Math.max(0, Math.round(value)));
          continue;
        }
        case OUTBOX.ended:
        case OUTBOX.failed:
          done.push(line);
          continue;
      }
      const idEnd = line.indexOf(',', tag.length + 1);
      const deviceEnd = line.indexOf(',', idEnd + 1);
      if (idEnd < 0 || deviceEnd < 0) continue;
      ops.push({ opId: Number(line.slice(tag.length + 1, idEnd)), deviceId: Number(line.slice(idEnd + 1, deviceEnd)), tag, payload: line.slice(deviceEnd + 1) });
    }
    const binary = hasBinary ? this.takeBinary() : undefined;
    for (const op of ops) this.perform(op, binary);
    for (const line of done) this.finish(line);
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

  private perform({ opId, deviceId, tag, payload: text }: HostOperation, binary: Uint8Array | undefined): void {
    const device = this.devices.get(deviceId);
    if (device === undefined) return;
    this.stats_.operations++;
    const now = performance.now();
    const sent = Math.round(now * 1000);
    if (tag === OPERATION.delay) {
      const ms = Number(text);
      if (ms > 0) this.timers.add(now + ms, ms, { opId, device, sent });
      else this.woken(device, opId, sent, sent);
      return;
    }
    if (HTTP_OPERATIONS.has(tag)) {
      const request = httpRequest(tag, text, binary);
      if (request === undefined) return;
      const http = device.io.http;
      if (http === undefined) this.rejected(device, opId, sent, DEVICE_ERROR.wrongProtocol, 'this device does not speak HTTP');
      else this.settle(device, opId, sent, performHttp(http, request, this.binary));
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return;
    }
    const kind = tag;
    if (WS_OPERATIONS.has(kind)) {
      const ws = device.io.ws;
      if (ws === undefined) this.rejected(device, opId, sent, DEVICE_ERROR.wrongProtocol, 'this device does not speak WebSocket (it needs an HTTP target)');
      else this.settle(device, opId, sent, performWebSocket(ws, kind, payload, binary, this.binary));
      return;
    }
    if (SOCKET_OPERATIONS.has(kind)) {
      this.settle(device, opId, sent, performSocket(device.io.socket, kind, payload, binary, this.binary));
    }
  }

  private settle(device: DeviceRecord, opId: number, sent: number, pending: Promise<string>): void {
    pending.then(
      (value) => this.resolved(device, opId, sent, value),
      (error: unknown) => this.rejected(device, opId, sent, errorCode(error), error instanceof Error ? error.message : String(error)),
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

  private onTimers(due: Waiting[], now: number): void {
    const at = Math.round(now * 1000);
    for (const { opId, device, sent } of due) this.woken(device, opId, sent, at);
  }

  /** A delay ended: a result without a value. Timestamps are µs. */
  private woken(device: DeviceRecord, opId: number, sent: number, at: number): void {
    if (this.devices.get(device.id) !== device) return;
    this.results.done(opId, sent, at);
    this.resultOwners.push(device);
    this.schedule();
  }

  /** An operation succeeded with `value` (a JSON fragment); its outcome is seen now. */
  private resolved(device: DeviceRecord, opId: number, sent: number, value: string): void {
    if (this.devices.get(device.id) !== device) return;
    this.results.value(opId, sent, nowUs(), value);
    this.resultOwners.push(device);
    this.schedule();
  }

  private rejected(device: DeviceRecord, opId: number, sent: number, code: string, message: string): void {
    if (this.devices.get(device.id) !== device) return;
    this.results.failed(opId, sent, nowUs(), code, message);
    this.resultOwners.push(device);
    this.schedule();
  }

  /** An OUTBOX.ended or OUTBOX.failed line (mailbox.ts). */
  private finish(line: string): void {
    const idEnd = line.indexOf(',', 2);
    const device = this.devices.get(Number(idEnd < 0 ? line.slice(2) : line.slice(2, idEnd)));
    if (device === undefined) return;
    this.devices.delete(device.id);
    if (line[0] === OUTBOX.ended) {
      this.suspect = false;
      device.resolve();
      return;
    }
    let entry: unknown[] = [];
    try {
      entry = JSON.parse(line.slice(idEnd + 1)) as unknown[];
    } catch {
      // an unreadable failure still fails the device, as a script error
    }
    const code = typeof entry[0] === 'string' && METRIC_KEY.test(entry[0]) ? entry[0] : DEVICE_ERROR.script;
    const message = entry[1] ?? '';
    this.suspect = LIMIT_ERRORS.has(code);
    device.reject(new DeviceError(code, typeof message === 'string' ? message : JSON.stringify(message)));
  }

  private fail(device: DeviceRecord, code: string, message: string): void {
    this.devices.delete(device.id);
    this.suspect = LIMIT_ERRORS.has(code);
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

/** The host clock in whole microseconds, the unit of every timestamp the guest sees. */
const nowUs = (): number => Math.round(performance.now() * 1000);

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
