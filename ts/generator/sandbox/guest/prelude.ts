/**
 * Guest half of the sandbox: JavaScript evaluated once per context, before the
 * script. It defines the script API and the mailbox. API functions never call
 * the host for I/O: they append an operation to a guest array and return a
 * guest promise. Once per event-loop turn the host makes three calls: `turn`
 * (results as one JSON array, device starts and kills, plus one ArrayBuffer),
 * then runs pending jobs, then `take` (queued operations, finished devices and
 * metrics, as lines of text the guest builds by concatenation: QuickJS's
 * JSON.stringify costs several microseconds even for a small nested array, a
 * good part of a turn). Only randomness and hashing are synchronous host calls.
 *
 * Timings read no clock in the guest. Every result carries two host
 * timestamps (µs): when the operation left the host and when its outcome was
 * seen there (the response bytes, the timer firing). A device's clock is the
 * latest outcome it has received; `startTiming` takes the moment the device's
 * next operation leaves, `stopTiming` the device's clock. So a timing around
 * `await get()` is the exchange itself, whatever the time the guest needed to
 * learn of it, and no timing costs a host call.
 *
 * The prelude is a function whose source text the host evaluates in the
 * guest (guest-prelude.ts): it refers to nothing outside itself but the
 * language's globals (test/sandbox/guest-code.test.ts checks that), and takes
 * what it shares with the host as `C` (constants.ts) and the other guest
 * functions as `parts` (bytes.ts, bert.ts). The host calls it with its host
 * functions and the plan's params as JSON, and gets back the mailbox. Nothing
 * of the machinery is reachable from the script: it lives in this closure, and
 * the intrinsics it relies on are captured before the script runs.
 *
 * Device-bound functions (http, delay, timing) are closures over a small device
 * record, made per device and only for names the script mentions
 * (script-source.ts); everything else is a frozen global shared by all devices.
 */
import type { BertCodec, guestBert } from './bert.js';
import type { guestBytes } from './bytes.js';
import type { GuestConstants } from './constants.js';
import type { SentBody } from '../mailbox.js';

/** The host functions the guest may call synchronously (script-sandbox.ts). */
export interface GuestHost {
  readonly random: (n: number) => unknown;
  readonly hash: (alg: string, data: string | ArrayBufferLike) => unknown;
  readonly hmac: (alg: string, key: string | ArrayBufferLike, data: string | ArrayBufferLike) => unknown;
  /** A received WebSocket message, null when there is none, or { code, message } for a failure. */
  readonly wsFetch: (deviceId: number, as: string) => unknown;
}

/** What the prelude returns to the host; see `turn` and `take` below for the formats. */
export interface GuestMailbox {
  readonly setScript: (fn: unknown, usedJson: string) => void;
  readonly turn: (results: string | null, kills: string | null, starts: string | null, buffer: ArrayBuffer | null) => void;
  readonly wake: (id: number) => void;
  readonly take: () => string;
  readonly takeBinary: () => ArrayBuffer | null;
}

/** The other guest functions, each a part of the prelude in its own file; passed in as their text is (guest-prelude.ts). */
export interface GuestParts {
  readonly makeBytes: typeof guestBytes;
  readonly makeBert: typeof guestBert;
}

/** QuickJS's own globals, beyond the language's. */
interface QuickJSGlobals {
  readonly InternalError: ErrorConstructor;
}

type DeviceApiName = GuestConstants['deviceApi'][number];
type OperationKind = GuestConstants['operation'][keyof GuestConstants['operation']];
type MessageAs = GuestConstants['messageAs'][keyof GuestConstants['messageAs']];

/** A started timing: `at` is filled in with the moment (µs) the device's next operation left the host. */
interface Mark {
  at: number | undefined;
}

/**
 * A running device. w: ids of pending operations; t: started timings; p: timing marks the next
 * operation fills; now: the device's clock (µs); i: the intended start of an arrival-rate iteration (µs).
 */
interface Device {
  id: number;
  w: number[];
  t: Map<string, Mark> | undefined;
  p: Mark[] | undefined;
  now: number;
  i: number | undefined;
  dead: boolean;
}

type Settle = (value: unknown) => void;
/** A pending operation: resolve, reject, its device, its kind, the timing marks it fills. */
type Wait = [Settle, Settle, Device, OperationKind, Mark[] | undefined];
/** A body as it crosses: [BODY.text, text], or [BODY.bytes, offset, length] into the binary side buffer (mailbox.ts). */
type BodySpec = SentBody;
/** A device start: an id, or [id, intended start in µs] for an arrival-rate iteration. */
type Start = number | [number, number];
/** A result waiting for its device's slice: its wait, the turn's results text, where its JSON starts and ends, the turn's bytes. */
type Staged = [Wait, string, number, number, ArrayBuffer | null];
/** [status, headers, bodyKind, body]. */
type ResponseEntry = [number, unknown, string, unknown];

export function guestPrelude(host: GuestHost, paramsJson: string, C: GuestConstants, parts: GuestParts): GuestMailbox {
  'use strict';
  const G = globalThis as typeof globalThis & QuickJSGlobals;
  const parse = JSON.parse,
    stringify = JSON.stringify;
  const apply = Reflect.apply,
    freeze = Object.freeze,
    keys = Object.keys,
    defineProperty = Object.defineProperty;
  const isArray = Array.isArray;
  const U8 = Uint8Array,
    AB = ArrayBuffer,
    Internal = G.InternalError;
  const isFiniteNumber = Number.isFinite,
    isInteger = Number.isInteger;
  const resolved = Promise.resolve();
  const hostRandom = host.random,
    hostHash = host.hash,
    hostHmac = host.hmac;
  const hostWsFetch = host.wsFetch;
  const KEY = new RegExp(C.metricKey.source, C.metricKey.flags);
  const KEY_TEXT = String(KEY);
  const RESERVED_COUNTER_KEY = new RegExp(C.reservedCounterKey.source, C.reservedCounterKey.flags);
  /** Most keys remembered as valid: a script that makes up keys as it goes keeps paying the RegExp, not memory. */
  const KEY_CACHE_SIZE = 256;
  const INTENDED = C.intendedSuffix;
  const TOKEN = new RegExp(C.httpToken.source, C.httpToken.flags);
  const BAD_VALUE = /[\r\n\0]/;
  const ALGORITHMS: readonly string[] = C.hashAlgorithms;
  const DELAY = C.operation.delay,
    PLAIN_REQUEST = C.operation.plainRequest,
    REQUEST = C.operation.request;
  const WS_UPGRADE = C.operation.wsUpgrade,
    WS_SEND = C.operation.wsSend,
    WS_RECEIVE = C.operation.wsReceive;
  const SOCKET_SEND = C.operation.socketSend,
    SOCKET_RECV = C.operation.socketRecv;
  const BODY_TEXT = C.body.text,
    BODY_BYTES = C.body.bytes,
    BODY_JSON = C.body.json,
    BODY_BERT = C.body.bert;
  const HEADER_SEPARATOR = C.headerSeparator;
  const AS_TEXT = C.messageAs.text,
    AS_BINARY = C.messageAs.binary,
    AS_JSON = C.messageAs.json;
  const OUT_BINARY = C.outbox.binary,
    OUT_ENDED = C.outbox.ended + ',',
    OUT_FAILED = C.outbox.failed + ',';
  const OUT_COUNT = C.outbox.count + ',',
    OUT_TIMING = C.outbox.timing + ',';
  const MAX_RANDOM_BYTES = 1048576;
  const noop = () => {};

  class DeviceError extends Error {
    declare code: string;
    declare status?: number;
    declare headers?: unknown;
    declare body?: unknown;
    declare response?: unknown;
    constructor(code: string, message: string) {
      super(message);
      this.code = code;
    }
  }
  defineProperty(DeviceError.prototype, 'name', { value: 'DeviceError', writable: true, configurable: true });
  const bad = (message: string) => new DeviceError('bad_argument', message);

  function deepFreeze(v: unknown): unknown {
    if (v !== null && typeof v === 'object') {
      freeze(v);
      for (const k of keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    }
    return v;
  }

  const byteCodecs = parts.makeBytes(bad);
  const utf8Encode = byteCodecs.utf8Encode,
    utf8Decode = byteCodecs.utf8Decode,
    toBytes = byteCodecs.toBytes;

  function hostData(v: unknown, what: string): string | ArrayBufferLike {
    if (typeof v === 'string') return v;
    const b = toBytes(v, what);
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  }

  function algorithm(alg: unknown, fn: string): string {
    if (ALGORITHMS.indexOf(alg as string) < 0) throw bad(fn + ': algorithm must be one of ' + ALGORITHMS.join(', '));
    return alg as string;
  }
  function hostBytes(result: unknown, fn: string): Uint8Array {
    if (!(result instanceof AB)) throw new DeviceError('unknown', fn + ' failed');
    return new U8(result);
  }

  function byteCount(n: unknown, max: number, fn: string): number {
    if (!isInteger(n) || (n as number) < 0 || (n as number) > max) throw bad(fn + ': n must be an integer from 0 to ' + max);
    return n as number;
  }
  function randomBytes(n: unknown): Uint8Array {
    return hostBytes(hostRandom(byteCount(n, MAX_RANDOM_BYTES, 'randomBytes')), 'randomBytes');
  }
  function randomBits(n: unknown): Uint8Array {
    const bits = byteCount(n, MAX_RANDOM_BYTES * 8, 'randomBits');
    const b = hostBytes(hostRandom((bits + 7) >> 3), 'randomBits');
    const extra = b.length * 8 - bits;
    if (extra > 0) b[0]! &= 0xff >> extra;
    return b;
  }

  // Keys that passed the pattern: a script names a handful of metrics and calls
  // them on every request, and a Set lookup costs QuickJS less than the RegExp.
  const validKeys = new Set<string>();
  const counterKeys = new Set<string>();
  function metricKey(key: unknown, fn: string): string {
    if (validKeys.has(key as string)) return key as string;
    if (typeof key !== 'string' || !KEY.test(key)) throw bad(fn + ': key must match ' + KEY_TEXT + ', got ' + stringify(String(key)));
    if (validKeys.size < KEY_CACHE_SIZE) validKeys.add(key);
    return key;
  }

  const counts = new Map<string, number>();
  let durations: Array<string | number> = [];
  function incCounter(key: unknown, value: unknown) {
    const k = metricKey(key, 'incCounter');
    if (!counterKeys.has(k)) {
      if (RESERVED_COUNTER_KEY.test(k)) throw bad('incCounter: the key ' + stringify(k) + " is reserved: its columns are a generator metric's");
      if (counterKeys.size < KEY_CACHE_SIZE) counterKeys.add(k);
    }
    if (value === undefined) value = 1;
    else if (typeof value !== 'number' || !isInteger(value) || value < 0) throw bad('incCounter: value must be a non-negative integer, got ' + (typeof value === 'number' ? value : typeof value));
    counts.set(k, (counts.get(k) || 0) + (value as number));
  }

  class JsonBody {
    declare readonly value: unknown;
    constructor(value: unknown) {
      this.value = value;
      freeze(this);
    }
  }
  freeze(JsonBody.prototype);
  const json = (value: unknown) => new JsonBody(value);

  const BERT_CODEC: BertCodec = parts.makeBert(utf8Encode, utf8Decode, bad, (message) => new DeviceError('protocol', message));
  class BertBody {
    declare readonly value: unknown;
    constructor(value: unknown) {
      this.value = value;
      freeze(this);
    }
  }
  freeze(BertBody.prototype);
  const bert = (value: unknown) => new BertBody(value);
  bert.encode = BERT_CODEC.encode;
  bert.decode = BERT_CODEC.decode;
  bert.atom = BERT_CODEC.atom;
  bert.tuple = BERT_CODEC.tuple;
  bert.dict = BERT_CODEC.dict;
  bert.Atom = BERT_CODEC.Atom;
  bert.Tuple = BERT_CODEC.Tuple;
  freeze(bert);

  function define(name: string, value: unknown) {
    defineProperty(G, name, { value: value, writable: false, enumerable: false, configurable: false });
  }
  define('params', deepFreeze(parse(paramsJson)));
  define('incCounter', incCounter);
  define('randomBits', randomBits);
  define('randomBytes', randomBytes);
  define('json', json);
  define('bert', bert);
  define('base64', freeze({ encode: byteCodecs.base64Encode, decode: byteCodecs.base64Decode }));
  define('hex', freeze({ encode: byteCodecs.hexEncode, decode: byteCodecs.hexDecode }));
  define(
    'text',
    freeze({
      encode(s: unknown) {
        if (typeof s !== 'string') throw bad('text.encode: expects a string');
        return utf8Encode(s);
      },
      decode(b: unknown) {
        return utf8Decode(toBytes(b, 'text.decode: data'));
      },
    }),
  );
  define(
    'crypto',
    freeze({
      hash(alg: unknown, data: unknown) {
        return hostBytes(hostHash(algorithm(alg, 'crypto.hash'), hostData(data, 'crypto.hash: data')), 'crypto.hash');
      },
      hmac(alg: unknown, key: unknown, data: unknown) {
        return hostBytes(hostHmac(algorithm(alg, 'crypto.hmac'), hostData(key, 'crypto.hmac: key'), hostData(data, 'crypto.hmac: data')), 'crypto.hmac');
      },
    }),
  );

  let seq = 0;
  // Outbox lines: '<tag>,<opId>,<deviceId>,<rest>' (see mailbox.ts).
  let out: string[] = [];
  let done: Array<[number] | [number, string, string]> = [];
  let bins: Uint8Array[] = [],
    binLength = 0,
    takenBinary: ArrayBuffer | null = null;
  const waits = new Map<number, Wait>();
  const devices = new Map<number, Device>();
  let script: ((...args: unknown[]) => unknown) | null = null;
  let used: boolean[] = [];

  // Queues an operation whose outbox line is tag + ',' + id + ',' + device + ',' + rest.
  function op(st: Device, kind: OperationKind, tag: string, rest: string): Promise<unknown> {
    if (st.dead) return new Promise(noop);
    const id = ++seq;
    out.push(tag + ',' + id + ',' + st.id + ',' + rest);
    st.w.push(id);
    // Timings started since the device's last operation begin when this one leaves.
    const starts = st.p;
    st.p = undefined;
    return new Promise((resolve, reject) => {
      waits.set(id, [resolve, reject, st, kind, starts]);
    });
  }
  const opJson = (st: Device, kind: OperationKind, payload: unknown) => op(st, kind, kind, stringify(payload));
  // A path that crosses as plain text: no line break, no NUL, no lone surrogate half.
  const PLAIN_PATH = /^[^\n\0\ud800-\udfff]*$/;

  function unlink(st: Device, id: number) {
    const i = st.w.indexOf(id);
    if (i >= 0) st.w.splice(i, 1);
  }

  function headerList(headers: unknown, fn: string): Array<[string, string]> {
    const list: Array<[string, string]> = [];
    const add = (name: unknown, value: unknown) => {
      if (typeof name !== 'string' || !TOKEN.test(name)) throw bad(fn + ': invalid header name ' + stringify(String(name)));
      if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
      if (typeof value !== 'string' || BAD_VALUE.test(value)) throw bad(fn + ': invalid value for header ' + name);
      list.push([name, value]);
    };
    if (headers === undefined || headers === null) return list;
    if (isArray(headers)) {
      for (const pair of headers as unknown[]) {
        if (!isArray(pair) || pair.length !== 2) throw bad(fn + ': headers must be [name, value] pairs');
        add(pair[0], pair[1]);
      }
    } else if (typeof headers === 'object') {
      for (const name of keys(headers)) add(name, (headers as Record<string, unknown>)[name]);
    } else throw bad(fn + ': headers must be an object or an array of [name, value] pairs');
    return list;
  }

  function bodySpec(body: unknown, headers: Array<[string, string]> | null, fn: string): BodySpec | null {
    if (body === undefined || body === null) return null;
    if (body instanceof JsonBody) {
      let s;
      try {
        s = stringify(body.value);
      } catch (e) {
        throw bad(fn + ': json() value cannot be serialised: ' + (e as Error).message);
      }
      if (typeof s !== 'string') throw bad(fn + ': json() value cannot be serialised');
      if (!headers!.some((h) => h[0].toLowerCase() === 'content-type')) headers!.push(['content-type', 'application/json']);
      return [BODY_TEXT, s];
    }
    if (typeof body === 'string') return [BODY_TEXT, body];
    let bytes;
    if (body instanceof BertBody) {
      try {
        bytes = BERT_CODEC.encode(body.value);
      } catch (e) {
        throw bad(fn + ': ' + (e as Error).message);
      }
      if (!headers!.some((h) => h[0].toLowerCase() === 'content-type')) headers!.push(['content-type', 'application/x-bert']);
    } else bytes = toBytes(body, fn + ': body').slice();
    bins.push(bytes);
    binLength += bytes.length;
    return [BODY_BYTES, binLength - bytes.length, bytes.length];
  }

  function http(st: Device, method: string, path: unknown, headers: unknown, body: unknown): Promise<unknown> {
    const fn = method === 'DELETE' ? 'del' : method.toLowerCase();
    try {
      if (typeof path !== 'string' || path === '') throw bad(fn + ': path must be a non-empty string');
      const list = headerList(headers, fn);
      const spec = bodySpec(body, list, fn);
      if (list.length === 0 && spec === null && PLAIN_PATH.test(path)) return op(st, REQUEST, PLAIN_REQUEST, method + ',' + path);
      return opJson(st, REQUEST, [method, path, list, spec]);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  function wsUpgrade(st: Device, path: unknown, headers: unknown): Promise<unknown> {
    try {
      if (typeof path !== 'string' || path === '') throw bad('wsUpgrade: path must be a non-empty string');
      return opJson(st, WS_UPGRADE, [path, headerList(headers, 'wsUpgrade')]);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // A text frame carries a string; a binary frame bytes, or a string sent as its UTF-8 bytes.
  function wsSend(st: Device, binary: 0 | 1, data: unknown, fn: string): Promise<unknown> {
    try {
      if (typeof data === 'string') return opJson(st, WS_SEND, [binary, [BODY_TEXT, data]]);
      if (binary === 0) throw bad(fn + ': expects a string');
      return opJson(st, WS_SEND, [1, bodySpec(toBytes(data, fn + ': data'), null, fn)]);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  function wsSendJson(st: Device, value: unknown): Promise<unknown> {
    let s;
    try {
      s = stringify(value);
    } catch (e) {
      return Promise.reject(bad('wsSendJson: value cannot be serialised: ' + (e as Error).message));
    }
    if (typeof s !== 'string') return Promise.reject(bad('wsSendJson: value cannot be serialised'));
    return opJson(st, WS_SEND, [0, [BODY_TEXT, s]]);
  }

  function wsReceive(st: Device, as: MessageAs, timeoutMs: unknown, fn: string): Promise<unknown> {
    if (timeoutMs === undefined) timeoutMs = 5000;
    if (typeof timeoutMs !== 'number' || !isFiniteNumber(timeoutMs) || timeoutMs < 0) return Promise.reject(bad(fn + ': timeoutMs must be a finite number >= 0'));
    return opJson(st, WS_RECEIVE, [as, timeoutMs]);
  }

  function jsonMessage(s: string, fn: string): unknown {
    try {
      return parse(s);
    } catch {
      throw new DeviceError('protocol', fn + ': WebSocket message is not JSON');
    }
  }

  function wsFetch(st: Device, as: MessageAs, fn: string): unknown {
    const r = hostWsFetch(st.id, as);
    if (r === null) return null;
    if (typeof r === 'string') return as === AS_JSON ? jsonMessage(r, fn) : r;
    if (r instanceof AB) return new U8(r);
    if (r !== undefined && typeof r === 'object') throw new DeviceError((r as { code: string }).code, (r as { message: string }).message);
    throw new DeviceError('unknown', fn + ' failed');
  }

  // TCP: bytes onto the stream; UDP: one datagram. A string goes as its UTF-8 bytes.
  function socketSend(st: Device, data: unknown): Promise<unknown> {
    try {
      if (typeof data === 'string') return opJson(st, SOCKET_SEND, [BODY_TEXT, data]);
      return opJson(st, SOCKET_SEND, bodySpec(toBytes(data, 'send: data'), null, 'send'));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  function socketRecv(st: Device, timeoutMs: unknown): Promise<unknown> {
    if (timeoutMs === undefined) timeoutMs = 5000;
    if (typeof timeoutMs !== 'number' || !isFiniteNumber(timeoutMs) || timeoutMs < 0) return Promise.reject(bad('recv: timeoutMs must be a finite number >= 0'));
    return opJson(st, SOCKET_RECV, timeoutMs);
  }

  function delay(st: Device, ms: unknown, ratio: unknown): Promise<unknown> {
    if (ratio === undefined) ratio = 0;
    if (typeof ms !== 'number' || !isFiniteNumber(ms) || ms < 0) return Promise.reject(bad('delay: ms must be a finite number >= 0'));
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) return Promise.reject(bad('delay: randomRatio must be a number from 0 to 1'));
    return op(st, DELAY, DELAY, '' + ms * (1 + ratio * (2 * Math.random() - 1)));
  }

  // A started timing is a mark whose time (µs) the device's next operation fills
  // in with the moment it left the host; until then it is the device's clock.
  function startTiming(st: Device, key: unknown) {
    const k = metricKey(key, 'startTiming');
    const mark: Mark = { at: undefined };
    (st.t || (st.t = new Map())).set(k, mark);
    (st.p || (st.p = [])).push(mark);
  }
  function stopTiming(st: Device, key: unknown) {
    const k = metricKey(key, 'stopTiming');
    const mark = st.t === undefined ? undefined : st.t.get(k);
    if (mark === undefined) throw bad('stopTiming: no timing started for ' + stringify(k));
    st.t!.delete(k);
    durations.push(k, st.now - (mark.at === undefined ? st.now : mark.at));
    // An arrival-rate iteration's twin, from when the iteration should have started.
    if (st.i !== undefined) durations.push(k + INTENDED, st.now - st.i);
  }
  function stopStartTiming(st: Device, stopKey: unknown, startKey: unknown) {
    metricKey(startKey, 'stopStartTiming');
    stopTiming(st, stopKey);
    startTiming(st, startKey);
  }

  // Device-bound functions by name; the wrapper takes them as parameters in DEVICE_API's order (script-source.ts).
  const MAKER: Record<DeviceApiName, (st: Device) => (...args: never[]) => unknown> = {
    get: (st) => (path: unknown, headers: unknown) => http(st, 'GET', path, headers, undefined),
    head: (st) => (path: unknown, headers: unknown) => http(st, 'HEAD', path, headers, undefined),
    options: (st) => (path: unknown, headers: unknown) => http(st, 'OPTIONS', path, headers, undefined),
    del: (st) => (path: unknown, headers: unknown) => http(st, 'DELETE', path, headers, undefined),
    post: (st) => (path: unknown, headers: unknown, body: unknown) => http(st, 'POST', path, headers, body),
    put: (st) => (path: unknown, headers: unknown, body: unknown) => http(st, 'PUT', path, headers, body),
    patch: (st) => (path: unknown, headers: unknown, body: unknown) => http(st, 'PATCH', path, headers, body),
    wsUpgrade: (st) => (path: unknown, headers: unknown) => wsUpgrade(st, path, headers),
    wsSendText: (st) => (data: unknown) => wsSend(st, 0, data, 'wsSendText'),
    wsSendBinary: (st) => (data: unknown) => wsSend(st, 1, data, 'wsSendBinary'),
    wsSendJson: (st) => (value: unknown) => wsSendJson(st, value),
    wsReceiveText: (st) => (timeoutMs: unknown) => wsReceive(st, AS_TEXT, timeoutMs, 'wsReceiveText'),
    wsReceiveBinary: (st) => (timeoutMs: unknown) => wsReceive(st, AS_BINARY, timeoutMs, 'wsReceiveBinary'),
    wsReceiveJson: (st) => (timeoutMs: unknown) => wsReceive(st, AS_JSON, timeoutMs, 'wsReceiveJson'),
    wsFetchText: (st) => () => wsFetch(st, AS_TEXT, 'wsFetchText'),
    wsFetchBinary: (st) => () => wsFetch(st, AS_BINARY, 'wsFetchBinary'),
    wsFetchJson: (st) => () => wsFetch(st, AS_JSON, 'wsFetchJson'),
    delay: (st) => (ms: unknown, randomRatio: unknown) => delay(st, ms, randomRatio),
    startTiming: (st) => (key: unknown) => startTiming(st, key),
    stopTiming: (st) => (key: unknown) => stopTiming(st, key),
    stopStartTiming: (st) => (stopKey: unknown, startKey: unknown) => stopStartTiming(st, stopKey, startKey),
    send: (st) => (data: unknown) => socketSend(st, data),
    recv: (st) => (timeoutMs: unknown) => socketRecv(st, timeoutMs),
  };
  const MAKERS = C.deviceApi.map((name) => MAKER[name]);

  function classify(e: unknown): string {
    try {
      if (e instanceof Internal) {
        if (e.message === 'interrupted') return 'cpu_limit';
        if (e.message === 'out of memory') return 'memory_limit';
        if (e.message === 'stack overflow') return 'stack_overflow';
      }
      if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && KEY.test(code)) return code;
      }
    } catch {
      // A getter that throws leaves the default.
    }
    return 'script';
  }
  function describe(e: unknown): string {
    try {
      const m = e !== null && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string' ? (e as { message: string }).message : String(e);
      return m.length > 500 ? m.slice(0, 500) : m;
    } catch {
      return 'unprintable error';
    }
  }

  const staged = new Map<number, unknown[]>();
  // The results text and bytes of the last turn, only kept alive (see turn).
  let _lastTurn: unknown[] = [];
  function stage(id: number, fn: Settle, value: unknown) {
    const list = staged.get(id);
    if (list === undefined) staged.set(id, [fn, value]);
    else list.push(fn, value);
  }

  const startAt = (args: unknown) => start((args as [Start, number])[0], (args as [Start, number])[1]);

  function retire(st: Device) {
    st.dead = true;
    staged.delete(st.id);
    if (devices.get(st.id) === st) devices.delete(st.id);
    for (const id of st.w) waits.delete(id);
    st.w = [];
  }

  // The entry goes into the outbox before any script-defined getter runs, so a
  // device always reports its end even if describing the error is interrupted.
  function finish(st: Device, failed: boolean, e?: unknown) {
    if (st.dead) return;
    retire(st);
    if (!failed) {
      done.push([st.id]);
      return;
    }
    const entry: [number, string, string] = [st.id, 'script', ''];
    done.push(entry);
    entry[1] = classify(e);
    entry[2] = describe(e);
  }

  // s: a device id, or [id, intended start in µs] for an arrival-rate iteration; now: the host clock (µs).
  function start(s: Start, now: number) {
    const id = typeof s === 'number' ? s : s[0];
    const st: Device = { id: id, w: [], t: undefined, p: undefined, now: now, i: typeof s === 'number' ? undefined : s[1], dead: false };
    devices.set(id, st);
    const args = new Array<unknown>(MAKERS.length);
    for (let i = 0; i < MAKERS.length; i++) if (used[i]) args[i] = MAKERS[i]!(st);
    // Starting inside a job lets the host's per-job CPU budget cover the script's first slice too.
    void resolved
      .then(() => apply(script!, undefined, args))
      .then(
        () => finish(st, false),
        (e) => finish(st, true, e),
      );
  }

  // A BERT body that does not decode is handed over as its bytes, as bad JSON is as text; json and bert say which it was.
  function response(v: ResponseEntry, buffer: ArrayBuffer | null) {
    let body = v[3],
      isBert = false;
    if (v[2] === BODY_BYTES || v[2] === BODY_BERT) body = buffer === null ? new U8(0) : new U8(buffer.slice((body as number[])[0], (body as number[])[0]! + (body as number[])[1]!));
    if (v[2] === BODY_BERT) {
      try {
        body = BERT_CODEC.decode(body);
        isBert = true;
      } catch {
        /* handed over as its bytes */
      }
    }
    const json = v[2] === BODY_JSON;
    const raw = v[1];
    if (typeof raw !== 'string') return { status: v[0], headers: raw, body: body, json: json, bert: isBert };
    // The pairs are made when a script first reads them (mailbox.ts HEADER_SEPARATOR);
    // a script may still replace them, as it could the plain property.
    let pairs: unknown;
    let made = false;
    return {
      status: v[0],
      get headers() {
        if (!made) {
          pairs = headerPairs(raw);
          made = true;
        }
        return pairs;
      },
      set headers(value: unknown) {
        pairs = value;
        made = true;
      },
      body: body,
      json: json,
      bert: isBert,
    };
  }

  function headerPairs(flat: string): Array<[string, string]> {
    const list: Array<[string, string]> = [];
    if (flat === '') return list;
    const parts = flat.split(HEADER_SEPARATOR);
    for (let i = 0; i + 1 < parts.length; i += 2) list.push([parts[i]!, parts[i + 1]!]);
    return list;
  }

  // The server's answer to an upgrade, whatever it was, as the original's ws_upgrade
  // returns it: a refusal left the connection as it was, and its body says why.
  function upgraded(v: ResponseEntry, buffer: ArrayBuffer | null) {
    const r = response(v, buffer);
    return { status: r.status, headers: r.headers, body: r.body };
  }

  function message(v: [string, unknown], buffer: ArrayBuffer | null) {
    if (v[0] !== BODY_BYTES) return v[1];
    return buffer === null ? new U8(0) : new U8(buffer.slice((v[1] as number[])[0], (v[1] as number[])[0]! + (v[1] as number[])[1]!));
  }

  // A result's value or failure, in its device's slice.
  function settleValue(args: unknown) {
    const [w, text, start, end, buffer] = args as Staged;
    w[0](settle(w[3], parse(text.slice(start, end)), buffer));
  }
  function settleFailure(args: unknown) {
    const [w, text, start, end] = args as Staged;
    const [code, message] = parse(text.slice(start, end)) as [string, string];
    w[1](new DeviceError(code, message));
  }

  // The value an operation resolves with, from its result entry.
  function settle(kind: OperationKind, v: unknown, buffer: ArrayBuffer | null): unknown {
    if (kind === REQUEST) return response(v as ResponseEntry, buffer);
    if (kind === WS_RECEIVE) return message(v as [string, unknown], buffer);
    if (kind === WS_UPGRADE) return upgraded(v as ResponseEntry, buffer);
    if (kind === SOCKET_RECV) return buffer === null ? new U8(0) : new U8(buffer.slice((v as number[])[0], (v as number[])[0]! + (v as number[])[1]!));
    return undefined;
  }

  return freeze({
    setScript(fn: unknown, usedJson: string) {
      if (typeof fn !== 'function') throw new TypeError('the script did not compile to a function');
      script = fn as (...args: unknown[]) => unknown;
      used = parse(usedJson) as boolean[];
    },
    // results: mailbox.ts ResultBatch's text, in the order the host saw them;
    // kills: JSON array of device ids; starts: JSON array [nowUs, start...]. Each
    // is null when there is none. Results and starts wait here per device until
    // the host wakes that device alone, so that what it allocates and how long it
    // runs are measured as its own: a value is parsed then, a response built then.
    turn(results: string | null, kills: string | null, starts: string | null, buffer: ArrayBuffer | null) {
      // The last turn's results text and bytes are let go here, outside any
      // device's slice: freed inside one, they would be credited to that device.
      // (A device whose slice was put off past this turn still holds its part.)
      _lastTurn = [results, buffer];
      // Kills first: a result for a device stopped this turn must find no waiter.
      if (kills !== null) {
        for (const id of parse(kills) as number[]) {
          const st = devices.get(id);
          if (st !== undefined) retire(st);
          staged.delete(id);
        }
      }
      if (results !== null) {
        const indexEnd = results.indexOf('\n');
        const index = results.slice(0, indexEnd).split(',');
        let at = indexEnd + 1;
        for (let i = 0; i < index.length; i += 4) {
          const id = +index[i]!,
            length = +index[i + 3]!;
          const end = at + (length < 0 ? -length : length);
          const w = waits.get(id);
          if (w !== undefined) {
            waits.delete(id);
            const st = w[2];
            unlink(st, id);
            const seen = +index[i + 2]!;
            if (seen > st.now) st.now = seen;
            const marks = w[4];
            if (marks !== undefined) for (const mark of marks) mark.at = +index[i + 1]!;
            if (length === 0) stage(st.id, w[0], undefined);
            else stage(st.id, length > 0 ? settleValue : settleFailure, [w, results, at, end, buffer]);
          }
          at = end;
        }
      }
      if (starts !== null) {
        const s = parse(starts) as [number, ...Start[]];
        // A start is an id, or [id, intended start in µs] for an arrival-rate iteration.
        for (let i = 1; i < s.length; i++) stage(typeof s[i] === 'number' ? (s[i] as number) : (s[i] as [number, number])[0], startAt, [s[i], s[0]]);
      }
    },
    wake(id: number) {
      const list = staged.get(id);
      if (list === undefined) return;
      staged.delete(id);
      for (let i = 0; i < list.length; i += 2) (list[i] as Settle)(list[i + 1]);
    },
    // Lines: the operation lines, then the OUTBOX lines of mailbox.ts.
    take() {
      if (out.length === 0 && done.length === 0 && counts.size === 0 && durations.length === 0) return '';
      const tail: string[] = [];
      if (binLength > 0) {
        const all = new U8(binLength);
        let offset = 0;
        for (const b of bins) {
          all.set(b, offset);
          offset += b.length;
        }
        takenBinary = all.buffer;
        tail.push(OUT_BINARY);
      }
      for (const e of done) tail.push(e.length === 1 ? OUT_ENDED + e[0] : OUT_FAILED + e[0] + ',' + stringify([e[1], e[2]]));
      counts.forEach((v, k) => {
        tail.push(OUT_COUNT + k + ',' + v);
      });
      for (let i = 0; i < durations.length; i += 2) tail.push(OUT_TIMING + durations[i] + ',' + durations[i + 1]);
      // Nothing is emptied before the text exists: if building it fails, the next take sends it all.
      const message = (tail.length === 0 ? out : out.concat(tail)).join('\n');
      out = [];
      done = [];
      durations = [];
      bins = [];
      binLength = 0;
      counts.clear();
      return message;
    },
    takeBinary() {
      const b = takenBinary;
      takenBinary = null;
      return b;
    },
  });
}
