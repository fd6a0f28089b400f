/**
 * QuickJS in WebAssembly (quickjs-emscripten, the product's engine) against
 * QuickJS compiled natively into a Node addon (bench/native-quickjs/, rquickjs),
 * on the guest path of a device that mostly waits:
 *
 *   for (;;) { await get('/'); await delay(10000, 0.5); }
 *
 * 10,000 devices are started and left waiting in `delay`; then, one device at a
 * time, its delay ends (a turn: the guest resumes and emits a GET), the host
 * answers at once (a second turn: the guest resumes with the response and
 * emits the next delay). One sparse request is those two wake-ups, each in a
 * turn of its own, as in `bench:sparse` where requests arrive spread over time.
 *
 * Rows, all in this process and this run:
 *   - ScriptSandbox: the product's sandbox itself, driven through its own turns
 *     (setImmediate, the fake HTTP member answering at once, delays handed to
 *     the bench instead of a timer), its parts timed by wrapping its methods;
 *   - WASM, bench host / native, bench host: the same calls the sandbox makes
 *     per turn (turn, then per woken device its memory limit, wake and jobs,
 *     then jobs, then take and the outbox parsed), made by one small host here
 *     on each engine, so the two differ only in the engine.
 * Prints µs of CPU per sparse request per part (deliver, jobs, collect) and in
 * all, memory per waiting device, and the isolation primitives of the native
 * build (memory limit on small allocations, interrupt handler, stack limit).
 *
 * `npm run bench:native-quickjs` builds the addon with cargo on demand
 * (`--no-build` skips it); options: --devices N, --requests N, --rounds N.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QuickJSHandle } from 'quickjs-emscripten';
import type { MetricSink } from '../ts/generator/metric-sink.js';
import type { HttpResponse } from '../ts/generator/protocols/device-connection.js';
import { GUEST_PRELUDE } from '../ts/generator/sandbox/guest-prelude.js';
import { NO_LIMIT } from '../ts/shared/script/heap-accounting.js';
import { quickJS } from '../ts/shared/script/quickjs-module.js';
import { BinaryParts, bodyFragment } from '../ts/generator/sandbox/response-body.js';
import { ResultBatch } from '../ts/generator/sandbox/mailbox.js';
import { DEFAULT_SANDBOX_LIMITS, ScriptSandbox } from '../ts/generator/sandbox/script-sandbox.js';
import { SCRIPT_FILE, usedDeviceApi, wrapScript } from '../ts/shared/script/script-source.js';

const SCRIPT = "for (;;) { await get('/'); await delay(10000, 0.5); }";
/** What nginx answers to `return 200` with a 17-byte text body (bench:sparse's server). */
const RESPONSE: HttpResponse = {
  status: 200,
  headers: [
    ['server', 'nginx/1.22.1'],
    ['date', 'Thu, 03 Dec 2026 23:40:00 GMT'],
    ['content-type', 'text/plain'],
    ['content-length', '17'],
    ['connection', 'keep-alive'],
  ],
  body: Buffer.from('stressgrid sparse'),
};
const LIMITS = DEFAULT_SANDBOX_LIMITS;
const JOB_BATCH = 64;
const MIN_GC_GROWTH_BYTES = 4 * 1024 * 1024;
const PARTS = ['deliver', 'jobs', 'collect'] as const;
type Part = (typeof PARTS)[number];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const DEVICES = option('devices', 10_000);
const REQUESTS = option('requests', 10_000);
const ROUNDS = option('rounds', 3);
const sink: MetricSink = { count() {}, duration() {} };
const nowUs = (): number => Math.round(performance.now() * 1000);
/** Node 22.19 and later (@types/node does not know it yet); the process's CPU before that. */
const threadCpuUsage = ((process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage ?? process.cpuUsage).bind(process);
const threadCpuUs = (): number => {
  const u = threadCpuUsage();
  return u.user + u.system;
};
const processCpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

// --- the native addon ------------------------------------------------------

interface NativeEngine {
  setScript(wrapped: string, usedJson: string): void;
  turn(results: string | null, kills: string | null, starts: string | null): string | null;
  wake(id: number): string | null;
  runJobs(max: number): number;
  slice(id: number, limitBytes: number): number;
  lastError(): string | null;
  take(): string;
  heldBytes(): number;
  computedMemory(): number[];
  setMemoryLimit(bytes: number): void;
  setMaxStackSize(bytes: number): void;
  runGc(): void;
  interruptStats(): number[];
  eval(code: string, cpuMs: number): string;
}
type NativeEngineClass = new (prelude: string, paramsJson: string, stackBytes: number, cpuMs: number) => NativeEngine;

const crate = join(root, 'bench', 'native-quickjs');
const LIB = 'libstressgrid_native_quickjs_bench.so';

function cargoBuild(manifest: string): void {
  if (args.includes('--no-build')) return;
  // One job when the machine is busy: the C of QuickJS is most of the build.
  const jobs = loadavg()[0]! > cpus().length ? ['-j1'] : [];
  const built = spawnSync('cargo', ['build', '--release', ...jobs, '--manifest-path', manifest], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`cargo build of ${manifest} failed`);
}

function loadAddon(lib: string, name: string): NativeEngineClass {
  if (!existsSync(lib)) throw new Error(`${lib} is missing: run without --no-build`);
  const addon = join(dirname(lib), name);
  copyFileSync(lib, addon);
  const module = { exports: {} as { NativeEngine: NativeEngineClass } };
  process.dlopen(module, addon);
  return module.exports.NativeEngine;
}

function loadNative(): NativeEngineClass {
  cargoBuild(join(crate, 'Cargo.toml'));
  return loadAddon(join(crate, 'target', 'release', LIB), 'native_quickjs.node');
}

/**
 * The same addon on a copy of rquickjs-sys whose Map mixes every bit of a
 * number key into its hash (Fibonacci hashing of the double's 64 bits).
 * quickjs-ng 0.16 hashes a number as (low word ^ high word) * 3163, and the low
 * word of a double is zero for every integer below 2^21, so the guest's Maps
 * keyed by operation and device ids (10,000 entries each) chain in a few
 * buckets. Built under target/int-hash/, so the package's own lock file and
 * build stay as they are.
 */
function loadNativeIntHash(): NativeEngineClass {
  const work = join(crate, 'target', 'int-hash');
  const copy = join(work, 'crate');
  if (!args.includes('--no-build')) {
    const lock = readFileSync(join(crate, 'Cargo.lock'), 'utf8');
    const version = /name = "rquickjs-sys"\nversion = "([^"]+)"/.exec(lock)?.[1];
    const registry = join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'registry', 'src');
    const index = existsSync(registry) ? readdirSync(registry).find((dir) => existsSync(join(registry, dir, `rquickjs-sys-${version}`))) : undefined;
    if (version === undefined || index === undefined) throw new Error('rquickjs-sys is not in the cargo registry: build the plain addon first');
    const sys = join(work, 'rquickjs-sys');
    rmSync(sys, { recursive: true, force: true });
    cpSync(join(registry, index, `rquickjs-sys-${version}`), sys, { recursive: true });
    const source = join(sys, 'quickjs', 'quickjs.c');
    const c = readFileSync(source, 'utf8');
    const from = 'h = (u.u32[0] ^ u.u32[1]) * 3163;';
    if (!c.includes(from)) throw new Error(`map_hash_key of rquickjs-sys ${version} is not the one this bench patches`);
    writeFileSync(source, c.replace(from, 'h = (uint32_t)((u.u64 * 0x9e3779b97f4a7c15ull) >> 32);'));
    mkdirSync(copy, { recursive: true });
    for (const file of ['Cargo.lock', 'build.rs', 'src']) cpSync(join(crate, file), join(copy, file), { recursive: true });
    const manifest = readFileSync(join(crate, 'Cargo.toml'), 'utf8');
    writeFileSync(join(copy, 'Cargo.toml'), `${manifest}\n[patch.crates-io]\nrquickjs-sys = { path = "../rquickjs-sys" }\n`);
    cargoBuild(join(copy, 'Cargo.toml'));
  }
  return loadAddon(join(copy, 'target', 'release', LIB), 'native_quickjs_int_hash.node');
}

// --- the two engines behind the calls the sandbox makes per turn -------------

interface Engine {
  /** mailbox.turn(results, null, starts, null). */
  deliver(results: string | null, starts: string | null): void;
  /** One device's slice: memory limit, wake(id), its jobs, limit lifted; bytes held afterwards. */
  slice(id: number, limitBytes: number): number;
  /** Pending jobs, in batches, until none. */
  runJobs(): void;
  take(): string;
  heldBytes(): number;
  /** Collects cycles when the runtime has grown enough (the sandbox's policy, between slices). */
  maybeGc(): void;
  dispose(): void;
}

async function wasmEngine(): Promise<Engine> {
  const { module, heap } = await quickJS();
  const runtime = module.newRuntime();
  runtime.setMaxStackSize(LIMITS.stackBytes);
  const ctx = runtime.newContext();
  const rt = (runtime as unknown as { rt: { value: number } }).rt.value;
  const usage = runtime.computeMemoryUsage();
  heap.install(rt, (ctx.dump(usage) as { memory_used_size?: number }).memory_used_size ?? 0);
  usage.dispose();
  heap.setGcThreshold(rt, NO_LIMIT);
  let deadline = Infinity;
  runtime.setInterruptHandler(() => performance.now() > deadline);
  const call = (fn: QuickJSHandle, ...argv: QuickJSHandle[]): void => {
    deadline = performance.now() + LIMITS.cpuMsPerTurn;
    const result = ctx.callFunction(fn, ctx.undefined, ...argv);
    deadline = Infinity;
    if (result.error) {
      const error = ctx.dump(result.error) as unknown;
      result.error.dispose();
      throw new Error(`guest: ${JSON.stringify(error)}`);
    }
    result.value.dispose();
  };
  const host = ctx.newObject();
  for (const name of ['random', 'hash', 'hmac', 'wsFetch']) {
    const fn = ctx.newFunction(name, () => ctx.undefined);
    ctx.setProp(host, name, fn);
    fn.dispose();
  }
  const prelude = ctx.unwrapResult(ctx.evalCode(GUEST_PRELUDE, 'prelude.js'));
  const params = ctx.newString('{}');
  const mailbox = ctx.unwrapResult(ctx.callFunction(prelude, ctx.undefined, host, params));
  for (const handle of [prelude, params, host]) handle.dispose();
  const [turnFn, wakeFn, takeFn, setScript] = ['turn', 'wake', 'take', 'setScript'].map((name) => ctx.getProp(mailbox, name)) as [QuickJSHandle, QuickJSHandle, QuickJSHandle, QuickJSHandle];
  const compiled = ctx.unwrapResult(ctx.evalCode(wrapScript(SCRIPT), SCRIPT_FILE));
  const used = ctx.newString(JSON.stringify(usedDeviceApi(SCRIPT)));
  call(setScript, compiled, used);
  for (const handle of [compiled, used, setScript]) handle.dispose();
  let gcAt = heap.size(rt) + MIN_GC_GROWTH_BYTES;
  const jobs = (max: number): number => {
    const result = runtime.executePendingJobs(max);
    if (!result.error) return result.value;
    result.error.dispose();
    return 1;
  };
  return {
    deliver(results, starts) {
      const r = results === null ? ctx.null : ctx.newString(results);
      const s = starts === null ? ctx.null : ctx.newString(starts);
      call(turnFn, r, ctx.null, s, ctx.null);
      r.dispose();
      s.dispose();
    },
    slice(id, limitBytes) {
      heap.setLimit(rt, limitBytes);
      heap.takeRefusal(rt);
      const handle = ctx.newNumber(id);
      call(wakeFn, handle);
      handle.dispose();
      deadline = performance.now() + LIMITS.cpuMsPerTurn;
      for (;;) {
        const result = runtime.executePendingJobs(-1);
        if (!result.error) break;
        result.error.dispose();
      }
      deadline = Infinity;
      heap.setLimit(rt, NO_LIMIT);
      if (heap.takeRefusal(rt)) throw new Error('memory limit refused an allocation');
      return heap.size(rt);
    },
    runJobs() {
      deadline = performance.now() + LIMITS.cpuMsPerTurn;
      while (jobs(JOB_BATCH) === JOB_BATCH);
      deadline = Infinity;
    },
    take() {
      const taken = ctx.callFunction(takeFn, ctx.undefined);
      if (taken.error) {
        taken.error.dispose();
        return '';
      }
      const text = ctx.getString(taken.value);
      taken.value.dispose();
      return text;
    },
    heldBytes: () => heap.size(rt),
    maybeGc() {
      if (heap.size(rt) <= gcAt) return;
      heap.setGcThreshold(rt, 0);
      ctx.newObject().dispose();
      heap.setGcThreshold(rt, NO_LIMIT);
      const after = heap.size(rt);
      gcAt = Math.max(after * 1.5, after + MIN_GC_GROWTH_BYTES);
    },
    dispose() {
      for (const handle of [turnFn, wakeFn, takeFn, mailbox]) handle.dispose();
      ctx.dispose();
      runtime.dispose();
    },
  };
}

function nativeEngine(NativeEngine: NativeEngineClass): Engine {
  const engine = new NativeEngine(GUEST_PRELUDE, '{}', LIMITS.stackBytes, LIMITS.cpuMsPerTurn);
  engine.setScript(wrapScript(SCRIPT), JSON.stringify(usedDeviceApi(SCRIPT)));
  let gcAt = engine.heldBytes() + MIN_GC_GROWTH_BYTES;
  return {
    deliver(results, starts) {
      const failure = engine.turn(results, null, starts);
      if (failure !== null) throw new Error(`guest: ${failure}`);
    },
    slice(id, limitBytes) {
      const held = engine.slice(id, limitBytes);
      if (held < 0) throw new Error(`guest: ${engine.lastError()}`);
      return held;
    },
    runJobs() {
      while (engine.runJobs(JOB_BATCH) === JOB_BATCH);
    },
    take: () => engine.take(),
    heldBytes: () => engine.heldBytes(),
    maybeGc() {
      if (engine.heldBytes() <= gcAt) return;
      engine.runGc();
      const after = engine.heldBytes();
      gcAt = Math.max(after * 1.5, after + MIN_GC_GROWTH_BYTES);
    },
    dispose() {},
  };
}

// --- the bench's host: the sandbox's calls per turn, on either engine --------

interface Delay {
  opId: number;
  device: number;
  sent: number;
}

class BenchHost {
  private readonly results = new ResultBatch();
  private woken: number[] = [];
  private starts: number[] = [];
  private readonly held: number[] = [];
  /** Devices waiting in `delay`, in the order they began to wait. */
  readonly delays: Delay[] = [];
  private readonly binary = new BinaryParts();
  readonly time: Record<Part, number> = { deliver: 0, jobs: 0, collect: 0 };
  timed = false;

  constructor(readonly engine: Engine) {}

  start(devices: number): void {
    for (let i = 0; i < devices; i++) {
      this.starts.push(i);
      this.held.push(0);
    }
  }

  /** The delay that began first ends now. */
  endDelay(): void {
    const { opId, device, sent } = this.delays.shift()!;
    this.results.done(opId, sent, nowUs());
    this.woken.push(device);
  }

  turn(): void {
    const engine = this.engine;
    const timed = this.timed;
    let t = timed ? threadCpuUs() : 0;
    const mark = (part: Part): void => {
      if (!timed) return;
      const now = threadCpuUs();
      this.time[part] += now - t;
      t = now;
    };
    const woken = [...this.woken, ...this.starts];
    engine.deliver(this.results.length === 0 ? null : this.results.take(), this.starts.length === 0 ? null : JSON.stringify([nowUs(), ...this.starts]));
    this.woken = [];
    this.starts = [];
    mark('deliver');
    for (const device of woken) {
      const before = engine.heldBytes();
      const after = engine.slice(device, before + Math.max(0, LIMITS.memoryBytes - this.held[device]!));
      this.held[device] = Math.max(0, this.held[device]! + after - before);
    }
    engine.runJobs();
    mark('jobs');
    const text = engine.take();
    if (text !== '') {
      for (const line of text.split('\n')) {
        const tag = line.slice(0, line.indexOf(','));
        const idEnd = line.indexOf(',', tag.length + 1);
        const deviceEnd = line.indexOf(',', idEnd + 1);
        const opId = Number(line.slice(tag.length + 1, idEnd));
        const device = Number(line.slice(idEnd + 1, deviceEnd));
        const sent = nowUs();
        if (tag === 'd') this.delays.push({ opId, device, sent });
        else if (tag === 'H') {
          // The host answers at once: the response is the next turn's result.
          this.results.value(opId, sent, nowUs(), `[${RESPONSE.status},${JSON.stringify(RESPONSE.headers)},${bodyFragment(RESPONSE.headers, RESPONSE.body, this.binary)}]`);
          this.woken.push(device);
        } else throw new Error(`unexpected outbox line ${line}`);
      }
    }
    mark('collect');
    engine.maybeGc();
  }

  /** Turns until every device waits in `delay` again. */
  settle(): void {
    while (this.results.length > 0 || this.starts.length > 0) this.turn();
  }
}

// --- the product's sandbox, driven through its own turns ---------------------

interface SandboxInternals {
  timers: { add(due: number, ms: number, item: Delay): void; takeDue(now: number): void; clear(): void };
  onTimers(due: unknown[], now: number): void;
}

class SandboxDriver {
  readonly time: Record<Part, number> = { deliver: 0, jobs: 0, collect: 0 };
  timed = false;
  readonly delays: unknown[] = [];
  private waiting: (() => void) | undefined;
  private expected = 0;
  /** What the sandbox's runtime held before any device started. */
  guestBefore = 0;

  private constructor(readonly sandbox: ScriptSandbox) {
    const internals = sandbox as unknown as SandboxInternals & Record<string, (...a: unknown[]) => unknown>;
    // Delays come to the bench instead of a timer, which ends them one at a time.
    internals.timers = {
      add: (_due, _ms, item) => {
        this.delays.push(item);
        if (this.delays.length >= this.expected) this.waiting?.();
      },
      takeDue() {},
      clear() {},
    };
    const wrap = (method: string, part: Part): void => {
      const original = internals[method]!;
      internals[method] = (...a: unknown[]) => {
        if (!this.timed) return original.apply(sandbox, a);
        const t = threadCpuUs();
        try {
          return original.apply(sandbox, a);
        } finally {
          this.time[part] += threadCpuUs() - t;
        }
      };
    };
    wrap('deliver', 'deliver');
    wrap('slice', 'jobs');
    wrap('runJobs', 'jobs');
    wrap('collect', 'collect');
  }

  static async create(devices: number): Promise<SandboxDriver> {
    const sandbox = await ScriptSandbox.create({ source: SCRIPT, params: {}, sink });
    const driver = new SandboxDriver(sandbox);
    driver.guestBefore = sandbox.guestMemoryBytes();
    const io = { http: () => Promise.resolve(RESPONSE) };
    driver.expected = devices;
    const all = new Promise<void>((resolve) => (driver.waiting = resolve));
    for (let i = 0; i < devices; i++) void sandbox.run(i, io);
    await all;
    return driver;
  }

  /** The delay that began first ends; resolves when the device waits in its next delay. */
  endDelay(): Promise<void> {
    const item = this.delays.shift()!;
    this.expected = this.delays.length + 1;
    const done = new Promise<void>((resolve) => (this.waiting = resolve));
    (this.sandbox as unknown as SandboxInternals).onTimers([item], performance.now());
    return done;
  }
}

// --- measuring ---------------------------------------------------------------

interface Row {
  label: string;
  /** µs of process CPU per sparse request, per round (no part timers running). */
  total: number[];
  /** µs of thread CPU per sparse request, per part, per round (part timers running). */
  parts: Record<Part, number[]>;
  guestBytesPerDevice: number;
  rssBytesPerDevice: number | undefined;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function newRow(label: string): Row {
  return { label, total: [], parts: { deliver: [], jobs: [], collect: [] }, guestBytesPerDevice: NaN, rssBytesPerDevice: undefined };
}

/** Boots an engine, starts the devices into their first delay, and notes memory per waiting device. */
function startHost(row: Row, engine: Engine, rssBefore: number | undefined): BenchHost {
  const host = new BenchHost(engine);
  engine.maybeGc();
  const guestBefore = engine.heldBytes();
  host.start(DEVICES);
  host.settle();
  gc();
  row.guestBytesPerDevice = (engine.heldBytes() - guestBefore) / DEVICES;
  if (rssBefore !== undefined) row.rssBytesPerDevice = (process.memoryUsage().rss - rssBefore) / DEVICES;
  return host;
}

function hostRound(row: Row, host: BenchHost, timed: boolean): void {
  host.timed = timed;
  const parts = { ...host.time };
  const cpu = processCpuUs();
  for (let i = 0; i < REQUESTS; i++) {
    host.endDelay();
    host.settle();
  }
  const used = processCpuUs() - cpu;
  if (!timed) row.total.push(used / REQUESTS);
  else for (const part of PARTS) row.parts[part].push((host.time[part] - parts[part]) / REQUESTS);
}

async function sandboxRound(row: Row, driver: SandboxDriver, timed: boolean): Promise<void> {
  driver.timed = timed;
  const parts = { ...driver.time };
  const cpu = processCpuUs();
  for (let i = 0; i < REQUESTS; i++) await driver.endDelay();
  const used = processCpuUs() - cpu;
  if (!timed) row.total.push(used / REQUESTS);
  else for (const part of PARTS) row.parts[part].push((driver.time[part] - parts[part]) / REQUESTS);
}

// --- isolation primitives of the native build ------------------------------

function isolation(NativeEngine: NativeEngineClass): string[] {
  const lines: string[] = [];
  const fresh = (): NativeEngine => new NativeEngine(GUEST_PRELUDE, '{}', LIMITS.stackBytes, LIMITS.cpuMsPerTurn);

  // Memory: only small allocations (objects of a few fields, short strings), the case the WASM build's
  // malloc_usable_size of 0 let through before the accounting allocator.
  for (const [what, code] of [
    ['small objects', 'const a = []; for (let i = 0; ; i++) a.push({ i });'],
    ['short strings', "const a = []; for (let i = 0; ; i++) a.push('s' + i);"],
    ['one growing string', "let s = ''; for (let i = 0; ; i++) s += 'xxxxxxxx' + i;"],
  ] as const) {
    const engine = fresh();
    const base = engine.heldBytes();
    engine.setMemoryLimit(base + LIMITS.memoryBytes);
    const started = performance.now();
    const outcome = engine.eval(code, 5000);
    const ms = performance.now() - started;
    const peak = engine.heldBytes() - base;
    engine.setMemoryLimit(0);
    lines.push(
      `memory limit ${LIMITS.memoryBytes / 2 ** 20} MiB, ${what}: ${outcome} after ${ms.toFixed(0)} ms, ` +
        `runtime holding ${(peak / 2 ** 20).toFixed(2)} MiB over its base at the refusal (QuickJS's own count)`,
    );
  }

  // CPU: the interrupt handler polled while the guest spins.
  {
    const engine = fresh();
    const [polls0] = engine.interruptStats();
    const started = performance.now();
    const outcome = engine.eval('for (;;) {}', LIMITS.cpuMsPerTurn);
    const ms = performance.now() - started;
    const [polls1, interrupts] = engine.interruptStats();
    lines.push(
      `interrupt, deadline ${LIMITS.cpuMsPerTurn} ms, \`for (;;) {}\`: ${outcome} after ${ms.toFixed(1)} ms ` +
        `(${polls1! - polls0!} polls of the handler, ${(((polls1! - polls0!) / ms) * 1000).toFixed(0)}/s; ${interrupts} interrupt)`,
    );
    const async = engine.eval('(async () => { for (;;) await null; })(); "started"', 0);
    const [polls2] = engine.interruptStats();
    const jobStarted = performance.now();
    const ran = engine.runJobs(-1);
    const [polls3] = engine.interruptStats();
    lines.push(`interrupt inside jobs (\`for (;;) await null\`, ${async}): runJobs returned after ${ran} jobs, ` + `${(performance.now() - jobStarted).toFixed(1)} ms, ${polls3! - polls2!} polls`);
  }

  // Stack: QuickJS checks its own limit against the native stack of the calling thread.
  for (const kb of [LIMITS.stackBytes / 1024, 1024]) {
    const engine = fresh();
    engine.setMaxStackSize(kb * 1024);
    const outcome = engine.eval('let depth = 0; function f() { depth++; f(); } try { f(); } catch (e) { `${e.name}: ${e.message} at depth ${depth}`; }', 5000);
    lines.push(`stack limit ${kb} KiB, unbounded recursion: ${outcome}`);
  }
  return lines;
}

// --- main --------------------------------------------------------------------

const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const NativeEngine = loadNative();
const NativeEngineIntHash = loadNativeIntHash();
console.log(
  `native-quickjs: ${DEVICES} devices, ${REQUESTS} sparse requests per round, ${ROUNDS} rounds per row; ` +
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average ${load}`,
);
if (globalThis.gc === undefined) console.log('(run with node --expose-gc for steady memory figures)');

await quickJS(); // the WebAssembly module loads once per thread; its own memory is not a device's
const sandboxRow = newRow('ScriptSandbox (WASM, the product)');
const wasmRow = newRow('WASM, bench host');
const nativeRow = newRow('native, bench host');
const intHashRow = newRow('native, Map hash mixing all bits, bench host');

gc();
let rss = process.memoryUsage().rss;
const driver = await SandboxDriver.create(DEVICES);
gc();
sandboxRow.guestBytesPerDevice = (driver.sandbox.guestMemoryBytes() - driver.guestBefore) / DEVICES;
sandboxRow.rssBytesPerDevice = (process.memoryUsage().rss - rss) / DEVICES;
// The WebAssembly heap the sandbox freed is reused by the next engine, so RSS says nothing there.
const wasmHost = startHost(wasmRow, await wasmEngine(), undefined);
gc();
rss = process.memoryUsage().rss;
const nativeHost = startHost(nativeRow, nativeEngine(NativeEngine), rss);
gc();
rss = process.memoryUsage().rss;
const intHashHost = startHost(intHashRow, nativeEngine(NativeEngineIntHash), rss);

for (let round = 0; round < ROUNDS; round++) {
  for (const timed of [false, true]) {
    await sandboxRound(sandboxRow, driver, timed);
    hostRound(wasmRow, wasmHost, timed);
    hostRound(nativeRow, nativeHost, timed);
    hostRound(intHashRow, intHashHost, timed);
  }
}

const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const best = (xs: number[]): number => Math.min(...xs);
console.log('\nµs of CPU per sparse request (two wake-ups): median of the rounds / best round');
console.log('| engine | deliver | jobs | collect | parts together | whole request (process CPU) | QuickJS B/device | RSS B/device |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const row of [sandboxRow, wasmRow, nativeRow, intHashRow]) {
  const parts = PARTS.map((p) => `${f(median(row.parts[p]))} / ${f(best(row.parts[p]))}`);
  const together = (pick: (xs: number[]) => number): number => PARTS.reduce((sum, p) => sum + pick(row.parts[p]), 0);
  console.log(
    `| ${row.label} | ${parts.join(' | ')} | ${f(together(median))} / ${f(together(best))} | ` +
      `${f(median(row.total))} / ${f(best(row.total))} | ${f(row.guestBytesPerDevice, 0)} | ${row.rssBytesPerDevice === undefined ? 'n/a' : f(row.rssBytesPerDevice, 0)} |`,
  );
}
const ratio = (a: number, b: number): string => `${f(a / b, 2)}x`;
for (const native of [nativeRow, intHashRow]) {
  console.log(
    `\nWASM / ${native.label}: deliver ${ratio(median(wasmRow.parts.deliver), median(native.parts.deliver))}, ` +
      `jobs ${ratio(median(wasmRow.parts.jobs), median(native.parts.jobs))}, ` +
      `collect ${ratio(median(wasmRow.parts.collect), median(native.parts.collect))}, ` +
      `whole request ${ratio(median(wasmRow.total), median(native.total))}; ` +
      `ScriptSandbox / it ${ratio(median(sandboxRow.total), median(native.total))}`,
  );
}
console.log('\nIsolation primitives, native build:');
for (const line of isolation(NativeEngine)) console.log(`- ${line}`);
console.log(
  `\nload average at the end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
driver.sandbox.dispose();
wasmHost.engine.dispose();
