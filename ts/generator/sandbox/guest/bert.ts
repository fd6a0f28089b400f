/**
 * BERT (Binary ERlang Term, bert-rpc.org) for scripts: Erlang's external term
 * format plus BERT's complex types, encoded and decoded inside the guest so a
 * term never needs a representation the host boundary can carry (atoms,
 * tuples, big integers). The guest prelude calls this function once per
 * context, handing it its UTF-8 helpers; it returns the `bert` API. Like the
 * prelude it is guest code: its text is evaluated in QuickJS, so it refers to
 * nothing outside itself but the language's globals (see prelude.ts).
 *
 * JavaScript to term (encode):
 *   safe-integer number, BigInt -> SMALL_INTEGER_EXT / INTEGER_EXT / SMALL_BIG_EXT / LARGE_BIG_EXT
 *   other finite number      -> NEW_FLOAT_EXT (so 2.0, being the number 2, is the integer 2)
 *   string                   -> BINARY_EXT (its UTF-8 bytes: BERT's strings are binaries)
 *   Uint8Array, ArrayBuffer  -> BINARY_EXT
 *   Array                    -> LIST_EXT (NIL_EXT when empty)
 *   bert.tuple(a, b, ...)    -> SMALL_TUPLE_EXT / LARGE_TUPLE_EXT
 *   bert.atom('name')        -> SMALL_ATOM_UTF8_EXT / ATOM_UTF8_EXT
 *   plain object             -> MAP_EXT with binary keys
 *   Map                      -> MAP_EXT, keys encoded as values
 *   true / false             -> {bert, true} / {bert, false}
 *   null / undefined         -> {bert, nil}
 *   bert.dict(map or object) -> {bert, dict, [{Key, Value}, ...]}
 *   Date                     -> {bert, time, MegaSeconds, Seconds, MicroSeconds}
 * Term to JavaScript (decode) is the inverse, and also reads what other
 * encoders write: bare atoms `true`/`false` are booleans, a binary that is
 * valid UTF-8 is a string (else a Uint8Array), integers beyond 2^53 are
 * BigInts, a map whose keys are all strings is a plain object (else a Map),
 * `{bert, dict, ...}` is a Map, STRING_EXT is a list of integers, FLOAT_EXT and
 * the Latin-1 atoms are read, and `{bert, string, Encoding, Binary}` is a string.
 */

/** The `bert` API the prelude hands to scripts. */
export type BertCodec = ReturnType<typeof guestBert>;

export function guestBert(utf8Encode: (s: string) => Uint8Array, utf8Decode: (b: Uint8Array) => string, bad: (message: string) => Error, protocolError: (message: string) => Error) {
  'use strict';
  const freeze = Object.freeze,
    keys = Object.keys,
    getPrototypeOf = Object.getPrototypeOf;
  const isArray = Array.isArray,
    // eslint-disable-next-line @typescript-eslint/unbound-method -- ArrayBuffer.isView reads no `this`
    isView = ArrayBuffer.isView,
    isInteger = Number.isInteger,
    isSafeInteger = Number.isSafeInteger;
  const U8 = Uint8Array,
    AB = ArrayBuffer,
    DV = DataView;
  const fromCharCode = String.fromCharCode;
  const VERSION = 131;
  const MAX_DEPTH = 512;

  class Atom {
    declare readonly name: string;
    constructor(name: string) {
      this.name = name;
      freeze(this);
    }
    toString() {
      return this.name;
    }
    toJSON() {
      return this.name;
    }
  }
  freeze(Atom.prototype);
  const atoms = new Map<string, Atom>();
  function atom(name: unknown): Atom {
    if (typeof name !== 'string') throw bad('bert.atom: name must be a string');
    let a = atoms.get(name);
    if (a === undefined) {
      if (utf8Encode(name).length > 65535) throw bad('bert.atom: name is longer than 65535 bytes');
      a = new Atom(name);
      atoms.set(name, a);
    }
    return a;
  }

  class Tuple extends Array<unknown> {}
  freeze(Tuple.prototype);
  function tuple(...items: unknown[]): Tuple {
    const t = new Tuple(items.length);
    for (let i = 0; i < items.length; i++) t[i] = items[i];
    return freeze(t);
  }

  class Dict {
    declare readonly entries: Array<[unknown, unknown]>;
    constructor(entries: Array<[unknown, unknown]>) {
      this.entries = entries;
      freeze(this);
    }
  }
  freeze(Dict.prototype);
  function dict(v: unknown): Dict {
    if (v instanceof Map) return new Dict(Array.from((v as Map<unknown, unknown>).entries()));
    if (v !== null && typeof v === 'object' && !isArray(v)) return new Dict(keys(v).map((k): [unknown, unknown] => [k, (v as Record<string, unknown>)[k]]));
    throw bad('bert.dict: expects a Map or an object');
  }

  const BERT = atom('bert');

  // ---- encode ----
  class Writer {
    declare b: Uint8Array;
    declare n: number;
    constructor() {
      this.b = new U8(256);
      this.n = 0;
    }
    room(k: number) {
      if (this.n + k <= this.b.length) return;
      let size = this.b.length * 2;
      while (size < this.n + k) size *= 2;
      const grown = new U8(size);
      grown.set(this.b.subarray(0, this.n));
      this.b = grown;
    }
    u8(v: number) {
      this.room(1);
      this.b[this.n++] = v;
    }
    u16(v: number) {
      this.room(2);
      this.b[this.n++] = v >>> 8;
      this.b[this.n++] = v & 255;
    }
    u32(v: number) {
      this.room(4);
      new DV(this.b.buffer).setUint32(this.n, v);
      this.n += 4;
    }
    i32(v: number) {
      this.room(4);
      new DV(this.b.buffer).setInt32(this.n, v);
      this.n += 4;
    }
    f64(v: number) {
      this.room(8);
      new DV(this.b.buffer).setFloat64(this.n, v);
      this.n += 8;
    }
    bytes(src: ArrayLike<number>) {
      this.room(src.length);
      this.b.set(src, this.n);
      this.n += src.length;
    }
  }

  function writeBig(w: Writer, v: bigint) {
    const negative = v < 0n;
    let m = negative ? -v : v;
    const digits: number[] = [];
    while (m > 0n) {
      digits.push(Number(m & 255n));
      m >>= 8n;
    }
    if (digits.length < 256) {
      w.u8(110);
      w.u8(digits.length);
    } else {
      w.u8(111);
      w.u32(digits.length);
    }
    w.u8(negative ? 1 : 0);
    w.bytes(digits);
  }

  function writeInteger(w: Writer, v: number | bigint) {
    if (typeof v === 'number') {
      if (v >= 0 && v <= 255) {
        w.u8(97);
        w.u8(v);
        return;
      }
      if (v >= -2147483648 && v <= 2147483647) {
        w.u8(98);
        w.i32(v);
        return;
      }
      v = BigInt(v);
    }
    if (v >= 0n && v <= 255n) {
      w.u8(97);
      w.u8(Number(v));
      return;
    }
    if (v >= -2147483648n && v <= 2147483647n) {
      w.u8(98);
      w.i32(Number(v));
      return;
    }
    writeBig(w, v);
  }

  function writeAtom(w: Writer, name: string) {
    const b = utf8Encode(name);
    if (b.length < 256) {
      w.u8(119);
      w.u8(b.length);
    } else {
      w.u8(118);
      w.u16(b.length);
    }
    w.bytes(b);
  }

  function writeBinary(w: Writer, b: Uint8Array) {
    w.u8(109);
    w.u32(b.length);
    w.bytes(b);
  }

  function writeTupleOf(w: Writer, items: readonly unknown[], depth: number) {
    if (items.length < 256) {
      w.u8(104);
      w.u8(items.length);
    } else {
      w.u8(105);
      w.u32(items.length);
    }
    for (let i = 0; i < items.length; i++) write(w, items[i], depth);
  }

  function writeList(w: Writer, items: readonly unknown[], depth: number) {
    if (items.length === 0) {
      w.u8(106);
      return;
    }
    w.u8(108);
    w.u32(items.length);
    for (let i = 0; i < items.length; i++) write(w, items[i], depth);
    w.u8(106);
  }

  function write(w: Writer, v: unknown, depth: number): void {
    if (++depth > MAX_DEPTH) throw bad('bert: the value nests deeper than ' + MAX_DEPTH + ' levels');
    if (typeof v === 'number') {
      // Past 2^53 a number is no exact integer any more: it stays a float (a BigInt encodes an integer).
      if (isSafeInteger(v)) return writeInteger(w, v === 0 ? 0 : v);
      if (v !== v || v === Infinity || v === -Infinity) throw bad('bert: ' + v + ' has no term');
      w.u8(70);
      w.f64(v);
      return;
    }
    if (typeof v === 'bigint') return writeInteger(w, v);
    if (typeof v === 'string') return writeBinary(w, utf8Encode(v));
    if (typeof v === 'boolean') return writeTupleOf(w, [BERT, atom(v ? 'true' : 'false')], depth);
    if (v === null || v === undefined) return writeTupleOf(w, [BERT, atom('nil')], depth);
    if (v instanceof Atom) return writeAtom(w, v.name);
    if (v instanceof Tuple) return writeTupleOf(w, v, depth);
    if (isArray(v)) return writeList(w, v, depth);
    if (v instanceof U8) return writeBinary(w, v);
    if (v instanceof AB) return writeBinary(w, new U8(v));
    if (isView(v)) return writeBinary(w, new U8(v.buffer, v.byteOffset, v.byteLength));
    if (v instanceof Dict) return writeTupleOf(w, [BERT, atom('dict'), v.entries.map((e) => tuple(e[0], e[1]))], depth);
    if (v instanceof Date) {
      const ms = v.getTime();
      if (ms !== ms) throw bad('bert: an invalid Date has no term');
      const seconds = Math.floor(ms / 1000);
      return writeTupleOf(w, [BERT, atom('time'), Math.floor(seconds / 1e6), seconds % 1e6, (ms - seconds * 1000) * 1000], depth);
    }
    if (v instanceof Map) {
      w.u8(116);
      w.u32(v.size);
      (v as Map<unknown, unknown>).forEach((value, key) => {
        write(w, key, depth);
        write(w, value, depth);
      });
      return;
    }
    if (typeof v === 'object') {
      const proto: unknown = getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw bad('bert: cannot encode a ' + constructorName(v) + ' (see the JavaScript-to-term table)');
      const ks = keys(v);
      w.u8(116);
      w.u32(ks.length);
      for (const k of ks) {
        writeBinary(w, utf8Encode(k));
        write(w, (v as Record<string, unknown>)[k], depth);
      }
      return;
    }
    throw bad('bert: cannot encode a ' + typeof v);
  }

  function constructorName(v: object): string {
    const c = (v as { constructor?: { name?: unknown } }).constructor;
    const name = c && c.name;
    return typeof name === 'string' && name !== '' ? name : 'object';
  }

  function encode(value: unknown): Uint8Array {
    const w = new Writer();
    w.u8(VERSION);
    write(w, value, 0);
    return w.b.slice(0, w.n);
  }

  // ---- decode ----
  class Reader {
    declare b: Uint8Array;
    declare i: number;
    declare dv: DataView;
    constructor(b: Uint8Array) {
      this.b = b;
      this.i = 0;
      this.dv = new DV(b.buffer, b.byteOffset, b.byteLength);
    }
    need(k: number) {
      if (this.i + k > this.b.length) throw protocolError('bert: the term ends early (byte ' + this.i + ')');
    }
    u8() {
      this.need(1);
      return this.b[this.i++]!;
    }
    u16() {
      this.need(2);
      const v = this.dv.getUint16(this.i);
      this.i += 2;
      return v;
    }
    u32() {
      this.need(4);
      const v = this.dv.getUint32(this.i);
      this.i += 4;
      return v;
    }
    i32() {
      this.need(4);
      const v = this.dv.getInt32(this.i);
      this.i += 4;
      return v;
    }
    f64() {
      this.need(8);
      const v = this.dv.getFloat64(this.i);
      this.i += 8;
      return v;
    }
    take(k: number) {
      this.need(k);
      const v = this.b.subarray(this.i, this.i + k);
      this.i += k;
      return v;
    }
    // Each element takes at least one byte: a count beyond what is left is a lie, not an allocation.
    count(k: number) {
      if (k > this.b.length - this.i) throw protocolError('bert: a length of ' + k + ' exceeds the bytes left');
      return k;
    }
  }

  function latin1(b: Uint8Array) {
    let s = '';
    for (let i = 0; i < b.length; i++) s += fromCharCode(b[i]!);
    return s;
  }

  function validUtf8(b: Uint8Array) {
    for (let i = 0; i < b.length;) {
      const c = b[i]!;
      let len;
      if (c < 0x80) len = 1;
      else if (c >= 0xc2 && c < 0xe0) len = 2;
      else if (c >= 0xe0 && c < 0xf0) len = 3;
      else if (c >= 0xf0 && c < 0xf5) len = 4;
      else return false;
      if (i + len > b.length) return false;
      for (let j = 1; j < len; j++) if ((b[i + j]! & 0xc0) !== 0x80) return false;
      if (len === 3) {
        const v = ((c & 15) << 12) | ((b[i + 1]! & 63) << 6);
        if (v < 0x800 || (v >= 0xd800 && v < 0xe000)) return false;
      }
      if (len === 4) {
        const v = ((c & 7) << 18) | ((b[i + 1]! & 63) << 12);
        if (v < 0x10000 || v >= 0x110000) return false;
      }
      i += len;
    }
    return true;
  }

  function binaryValue(b: Uint8Array) {
    return validUtf8(b) ? utf8Decode(b) : b.slice();
  }

  function atomValue(name: string) {
    if (name === 'true') return true;
    if (name === 'false') return false;
    return atom(name);
  }

  function readBig(r: Reader, n: number) {
    const sign = r.u8();
    const digits = r.take(r.count(n));
    let v = 0n;
    for (let i = digits.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(digits[i]!);
    if (sign !== 0) v = -v;
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  }

  // A tuple tagged bert is one of BERT's complex types.
  function complex(items: Tuple): [unknown] | null {
    if (items.length < 2 || items[0] !== BERT) return null;
    const kind = items[1];
    if (items.length === 2 && kind === atom('nil')) return [null];
    if (items.length === 2 && (kind === true || kind === false)) return [kind];
    if (items.length === 3 && kind === atom('dict') && isArray(items[2])) {
      const m = new Map<unknown, unknown>();
      for (const e of items[2] as unknown[]) {
        if (!(e instanceof Tuple) || e.length !== 2) throw protocolError('bert: a dict entry must be a {Key, Value} tuple');
        m.set(e[0], e[1]);
      }
      return [m];
    }
    if (items.length === 5 && kind === atom('time') && isInteger(items[2]) && isInteger(items[3]) && isInteger(items[4])) {
      return [new Date(((items[2] as number) * 1e6 + (items[3] as number)) * 1000 + Math.floor((items[4] as number) / 1000))];
    }
    if (items.length === 4 && kind === atom('string') && typeof items[3] === 'string') return [items[3]];
    return null;
  }

  function readTuple(r: Reader, n: number, depth: number) {
    r.count(n);
    const items = new Tuple(n);
    for (let i = 0; i < n; i++) items[i] = read(r, depth);
    const c = complex(items);
    return c === null ? freeze(items) : c[0];
  }

  function readMap(r: Reader, n: number, depth: number) {
    r.count(n);
    const entries: Array<[unknown, unknown]> = [];
    let plain = true;
    for (let i = 0; i < n; i++) {
      const k = read(r, depth);
      entries.push([k, read(r, depth)]);
      if (typeof k !== 'string') plain = false;
    }
    if (!plain) return new Map(entries);
    const o: Record<string, unknown> = {};
    for (const e of entries) o[e[0] as string] = e[1];
    return o;
  }

  function read(r: Reader, depth: number): unknown {
    if (++depth > MAX_DEPTH) throw protocolError('bert: the term nests deeper than ' + MAX_DEPTH + ' levels');
    const tag = r.u8();
    switch (tag) {
      case 97:
        return r.u8();
      case 98:
        return r.i32();
      case 70:
        return r.f64();
      case 99: {
        const text = latin1(r.take(31));
        const end = text.indexOf('\0');
        const v = +(end < 0 ? text : text.slice(0, end));
        if (v !== v) throw protocolError('bert: FLOAT_EXT holds no number');
        return v;
      }
      case 110:
        return readBig(r, r.u8());
      case 111:
        return readBig(r, r.u32());
      case 100:
        return atomValue(latin1(r.take(r.u16())));
      case 115:
        return atomValue(latin1(r.take(r.u8())));
      case 118:
        return atomValue(utf8Decode(r.take(r.u16())));
      case 119:
        return atomValue(utf8Decode(r.take(r.u8())));
      case 109:
        return binaryValue(r.take(r.u32()));
      case 104:
        return readTuple(r, r.u8(), depth);
      case 105:
        return readTuple(r, r.u32(), depth);
      case 106:
        return [];
      case 107:
        return Array.from(r.take(r.u16()));
      case 108: {
        const n = r.count(r.u32());
        const items = new Array<unknown>(n);
        for (let i = 0; i < n; i++) items[i] = read(r, depth);
        if (r.u8() !== 106) throw protocolError('bert: improper lists (a tail other than []) are not supported');
        return items;
      }
      case 116:
        return readMap(r, r.u32(), depth);
      default:
        throw protocolError('bert: term tag ' + tag + ' is not supported (pids, ports, references, funs, bitstrings and compressed terms have no JavaScript value)');
    }
  }

  function decode(data: unknown): unknown {
    let b;
    if (data instanceof U8) b = data;
    else if (data instanceof AB) b = new U8(data);
    else if (isView(data)) b = new U8(data.buffer, data.byteOffset, data.byteLength);
    else throw bad('bert.decode: expects a Uint8Array');
    const r = new Reader(b);
    if (r.u8() !== VERSION) throw protocolError('bert: not an Erlang external term (the first byte must be 131)');
    const v = read(r, 0);
    if (r.i !== b.length) throw protocolError('bert: ' + (b.length - r.i) + ' bytes after the term');
    return v;
  }

  return freeze({ encode: encode, decode: decode, atom: atom, tuple: tuple, dict: dict, Atom: Atom, Tuple: Tuple, Dict: Dict });
}
