/**
 * Byte-exact allocation accounting for QuickJS runtimes in the WebAssembly build.
 *
 * QuickJS charges every allocation to its runtime (JSMallocState: count, size,
 * limit) with the allocator's usable size, which the Emscripten build reports
 * as 0: each allocation counts 8 bytes whatever its size, so the memory limit
 * only ever refuses one allocation larger than the whole cap (upstream
 * quickjs-emscripten issue 271). A leak in small pieces, or in many buffers
 * each under the cap, is never refused.
 *
 * The runtime calls its allocator through four function pointers at the start
 * of JSRuntime (malloc, free, realloc, usable size, as table indices). We put
 * our own four in the module's function table: a few dozen instructions of
 * WebAssembly, built below, that call the module's own malloc and free and
 * charge the real chunk size (dlmalloc keeps it in the word before the block),
 * so `size` is the bytes the runtime really holds and `limit` holds for every
 * allocation pattern. Reading and writing those fields from the host is a
 * plain memory access, cheap enough to do around every device's slice.
 *
 * A refused allocation sets the state's `opaque` word (unused by the default
 * allocator) and opens a reserve above the limit, so the guest can still build
 * the `out of memory` error and unwind; the host sees the flag and ends the
 * device that hit its cap.
 */

/** Byte offsets in JSRuntime (QuickJS 2024-01, wasm32): JSMallocFunctions, then JSMallocState. */
const MF_WORDS = 4;
const STATE = MF_WORDS * 4;
const COUNT = STATE;
const SIZE = STATE + 4;
const LIMIT = STATE + 8;
const REFUSED = STATE + 12;
/** JSRuntime.malloc_gc_threshold: QuickJS collects cycles when `size` passes it. */
const GC_THRESHOLD = 108;
/** Its value in a runtime that has not collected yet. */
const INITIAL_GC_THRESHOLD = 256 * 1024;
/** Above the limit once an allocation was refused: room for the error and the unwinding. */
export const REFUSAL_RESERVE_BYTES = 256 * 1024;
/** What `limit` is when nothing is capped (size_t max). */
export const NO_LIMIT = 0xffffffff;

/** The little of the WebAssembly JS API used here (the project compiles without the DOM lib, which declares it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmTable {
  grow(delta: number): number;
  set(index: number, value: unknown): void;
}
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
  Table: new (descriptor: { element: 'anyfunc'; initial: number }) => WasmTable;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> }; module: object }>;
}
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface EmscriptenExports {
  memory: WasmMemory;
  table: WasmTable;
  malloc: (size: number) => number;
  free: (ptr: number) => void;
}

/** The accounting allocator installed in one module; patches runtimes of that module. */
export class HeapAccounting {
  private readonly u32: Uint32Array;
  private readonly functions: number[];

  constructor(emscripten: EmscriptenExports) {
    this.u32 = new Uint32Array(emscripten.memory.buffer);
    const instance = new Wasm.Instance(new Wasm.Module(accountingModule()), {
      env: { memory: emscripten.memory, malloc: emscripten.malloc, free: emscripten.free },
    });
    const e = instance.exports as Record<string, (...args: number[]) => number>;
    const first = emscripten.table.grow(4);
    const fns = [e.js_malloc, e.js_free, e.js_realloc, e.js_usable];
    fns.forEach((fn, i) => emscripten.table.set(first + i, fn));
    this.functions = fns.map((_, i) => first + i);
  }

  /**
   * Switches a fresh runtime to byte accounting. What it allocated so far was
   * charged 8 bytes a block; `heldBytes` (QuickJS's own estimate) replaces
   * that, and frees below zero stop at zero.
   */
  install(rt: number, heldBytes: number): void {
    const base = rt >>> 2;
    // The offsets above are those of the QuickJS this package ships. A fresh runtime of
    // that build has charged exactly 8 bytes a block and not collected yet: anything else
    // means another layout, where writing these words would corrupt the runtime.
    const count = this.u32[(rt + COUNT) >>> 2]!;
    if (count === 0 || this.u32[(rt + SIZE) >>> 2] !== count * 8 || this.u32[(rt + GC_THRESHOLD) >>> 2] !== INITIAL_GC_THRESHOLD) {
      throw new Error('the QuickJS runtime does not have the layout the accounting allocator expects (was quickjs-emscripten upgraded?)');
    }
    for (let i = 0; i < MF_WORDS; i++) this.u32[base + i] = this.functions[i]!;
    this.u32[(rt + SIZE) >>> 2] = heldBytes;
    this.u32[(rt + REFUSED) >>> 2] = 0;
  }

  /** Bytes the runtime holds now. */
  size(rt: number): number {
    return this.u32[(rt + SIZE) >>> 2]!;
  }

  count(rt: number): number {
    return this.u32[(rt + COUNT) >>> 2]!;
  }

  setLimit(rt: number, bytes: number): void {
    this.u32[(rt + LIMIT) >>> 2] = Math.min(NO_LIMIT, Math.max(0, Math.floor(bytes)));
  }

  /** NO_LIMIT keeps QuickJS from collecting on its own; 0 makes its next object allocation collect. */
  setGcThreshold(rt: number, bytes: number): void {
    this.u32[(rt + GC_THRESHOLD) >>> 2] = bytes;
  }

  /** Whether an allocation was refused since the last clear, then clears it. */
  takeRefusal(rt: number): boolean {
    const i = (rt + REFUSED) >>> 2;
    const refused = this.u32[i] !== 0;
    this.u32[i] = 0;
    return refused;
  }
}

// ---- the allocator, as WebAssembly bytes -------------------------------------------------

const I32 = 0x7f;
const I64 = 0x7e;
const op = {
  unreachable: 0x00,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  return: 0x0f,
  call: 0x10,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LeU: 0x4d,
  i32GeU: 0x4f,
  i64GtU: 0x56,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i64Add: 0x7c,
  i64ExtendI32U: 0xad,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  let value = BigInt(n);
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    if ((value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const get = (i: number) => [op.localGet, i];
const set = (i: number) => [op.localSet, i];
const tee = (i: number) => [op.localTee, i];
const i32 = (n: number) => [op.i32Const, ...sleb(n)];
const i64 = (n: number) => [op.i64Const, ...sleb(n)];
const load = (offset: number) => [op.i32Load, 2, ...uleb(offset)];
const store = (offset: number) => [op.i32Store, 2, ...uleb(offset)];
const u64 = (code: number[]) => [...code, op.i64ExtendI32U];
/** The dlmalloc chunk size of the block at `ptr` (head word, flag bits off). */
const chunk = (ptr: number) => [...get(ptr), ...i32(4), op.i32Sub, ...load(0), ...i32(-8), op.i32And];

// Imported functions 0 malloc(size), 1 free(ptr); ours 2 js_malloc, 3 js_free, 4 js_realloc, 5 js_usable.
const MALLOC = 0;
const FREE = 1;
const JS_MALLOC = 2;
const JS_FREE = 3;

/** (state.size + extra > limit + (refused ? reserve : 0)) as i32, with `extra` an i64 expression. */
function overLimit(s: number, extra: number[]): number[] {
  return [
    ...u64(get(s).concat(load(SIZE - STATE))),
    ...extra,
    op.i64Add,
    ...u64(get(s).concat(load(LIMIT - STATE))),
    ...get(s),
    ...load(REFUSED - STATE),
    op.if,
    I64,
    ...i64(REFUSAL_RESERVE_BYTES),
    op.else,
    ...i64(0),
    op.end,
    op.i64Add,
    op.i64GtU,
  ];
}

/** state.size = max(0, state.size + delta), delta an i32 expression that may be negative. */
function addSize(s: number, scratch: number, plus: number[], minus: number[]): number[] {
  return [...get(s), ...get(s), ...load(SIZE - STATE), ...plus, op.i32Add, ...tee(scratch), ...minus, op.i32Sub, ...i32(0), ...get(scratch), ...minus, op.i32GeU, op.select, ...store(SIZE - STATE)];
}

const refuse = (s: number) => [...get(s), ...i32(1), ...store(REFUSED - STATE), ...i32(0), op.return];

// js_malloc(s, size) -> ptr; locals: 2 ptr, 3 scratch
const jsMalloc = [
  ...overLimit(0, u64(get(1))),
  op.if,
  0x40,
  ...refuse(0),
  op.end,
  ...get(1),
  op.call,
  MALLOC,
  ...tee(2),
  op.i32Eqz,
  op.if,
  0x40,
  ...i32(0),
  op.return,
  op.end,
  ...get(0),
  ...get(0),
  ...load(COUNT - STATE),
  ...i32(1),
  op.i32Add,
  ...store(COUNT - STATE),
  ...addSize(0, 3, chunk(2), i32(0)),
  ...get(2),
];

// js_free(s, ptr); locals: 2 scratch
const jsFree = [
  ...get(1),
  op.i32Eqz,
  op.if,
  0x40,
  op.return,
  op.end,
  ...get(0),
  ...get(0),
  ...load(COUNT - STATE),
  ...i32(1),
  op.i32Sub,
  ...store(COUNT - STATE),
  ...addSize(0, 2, i32(0), chunk(1)),
  ...get(1),
  op.call,
  FREE,
];

// js_realloc(s, ptr, size) -> ptr; locals: 3 old, 4 fresh, 5 scratch
const jsRealloc = [
  ...get(1),
  op.i32Eqz,
  op.if,
  0x40,
  ...get(2),
  op.i32Eqz,
  op.if,
  0x40,
  ...i32(0),
  op.return,
  op.end,
  ...get(0),
  ...get(2),
  op.call,
  JS_MALLOC,
  op.return,
  op.end,
  ...get(2),
  op.i32Eqz,
  op.if,
  0x40,
  ...get(0),
  ...get(1),
  op.call,
  JS_FREE,
  ...i32(0),
  op.return,
  op.end,
  ...chunk(1),
  ...set(3),
  // The block already fits and is not more than twice too big: keep it.
  ...get(2),
  ...i32(4),
  op.i32Add,
  ...get(3),
  op.i32LeU,
  ...get(2),
  ...i32(4),
  op.i32Add,
  ...i32(2),
  op.i32Mul,
  ...get(3),
  op.i32GeU,
  op.i32And,
  op.if,
  0x40,
  ...get(1),
  op.return,
  op.end,
  // Charged as if the new block came before the old one went.
  ...overLimit(0, u64(get(2))),
  op.if,
  0x40,
  ...refuse(0),
  op.end,
  ...get(2),
  op.call,
  MALLOC,
  ...tee(4),
  op.i32Eqz,
  op.if,
  0x40,
  ...i32(0),
  op.return,
  op.end,
  // memory.copy(fresh, ptr, min(size, old - 4))
  ...get(4),
  ...get(1),
  ...get(2),
  ...get(3),
  ...i32(4),
  op.i32Sub,
  ...get(2),
  ...get(3),
  ...i32(4),
  op.i32Sub,
  op.i32LeU,
  op.select,
  0xfc,
  10,
  0,
  0,
  ...addSize(0, 5, chunk(4), get(3)),
  ...get(1),
  op.call,
  FREE,
  ...get(4),
];

// js_usable(ptr) -> 0: QuickJS then uses no slack past the requested size, as before.
const jsUsable = [...i32(0)];

function body(locals: Array<[count: number, type: number]>, code: number[]): number[] {
  const bytes = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, op.end];
  return [...uleb(bytes.length), ...bytes];
}

function readUleb(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, at];
    scale *= 128;
  }
}

/** The export name `withTableExport` gives the module's function table. */
export const TABLE_EXPORT = 'sg_function_table';

/**
 * The QuickJS module with its function table exported and growable (the release
 * build keeps it internal and fixed, having no use for either), so that the
 * accounting allocator can be added to it. Only the table and export sections change.
 */
export function withTableExport(wasm: Uint8Array): Uint8Array {
  const out: Uint8Array[] = [wasm.subarray(0, 8)];
  let at = 8;
  let exported = false;
  while (at < wasm.length) {
    const id = wasm[at]!;
    const [size, start] = readUleb(wasm, at + 1);
    const end = start + size;
    let payload: number[] | undefined;
    if (id === 4) {
      // One table of funcref: keep its minimum, drop its maximum.
      const [count, afterCount] = readUleb(wasm, start);
      if (count !== 1 || wasm[afterCount] !== 0x70) throw new Error('unexpected table section in the QuickJS module');
      const [min] = readUleb(wasm, afterCount + 2);
      payload = [1, 0x70, 0x00, ...uleb(min)];
    } else if (id === 7) {
      const [count, afterCount] = readUleb(wasm, start);
      payload = [...uleb(count + 1), ...wasm.subarray(afterCount, end), ...name(TABLE_EXPORT), 0x01, 0x00];
      exported = true;
    }
    out.push(payload === undefined ? wasm.subarray(at, end) : new Uint8Array(section(id, payload)));
    at = end;
  }
  if (!exported) throw new Error('the QuickJS module has no export section');
  return new Uint8Array(Buffer.concat(out));
}

let cached: Uint8Array | undefined;

/** The allocator module: imports env.memory, env.malloc, env.free; exports js_malloc, js_free, js_realloc, js_usable. */
export function accountingModule(): Uint8Array {
  if (cached) return cached;
  const types = vec([
    [0x60, ...vec([[I32], [I32]]), ...vec([[I32]])], // 0 (i32 i32) -> i32
    [0x60, ...vec([[I32], [I32]]), ...vec([])], // 1 (i32 i32) -> ()
    [0x60, ...vec([[I32], [I32], [I32]]), ...vec([[I32]])], // 2 (i32 i32 i32) -> i32
    [0x60, ...vec([[I32]]), ...vec([[I32]])], // 3 (i32) -> i32
    [0x60, ...vec([[I32]]), ...vec([])], // 4 (i32) -> ()
  ]);
  const imports = vec([
    [...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)],
    [...name('env'), ...name('malloc'), 0x00, 3],
    [...name('env'), ...name('free'), 0x00, 4],
  ]);
  const functions = vec([[0], [1], [2], [3]]);
  const exports = vec([
    [...name('js_malloc'), 0x00, 2],
    [...name('js_free'), 0x00, 3],
    [...name('js_realloc'), 0x00, 4],
    [...name('js_usable'), 0x00, 5],
  ]);
  const code = vec([body([[2, I32]], jsMalloc), body([[1, I32]], jsFree), body([[3, I32]], jsRealloc), body([], jsUsable)]);
  cached = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...section(1, types), ...section(2, imports), ...section(3, functions), ...section(7, exports), ...section(10, code)]);
  return cached;
}
