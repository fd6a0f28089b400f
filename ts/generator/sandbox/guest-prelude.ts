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
 * The prelude is a function expression: the host calls it with its host
 * functions, the plan's params as JSON, and gets back the mailbox. Nothing of
 * the machinery is reachable from the script: it lives in this closure, and the
 * intrinsics it relies on are captured before the script runs.
 *
 * Device-bound functions (http, delay, timing) are closures over a small device
 * record, made per device and only for names the script mentions
 * (script-source.ts); everything else is a frozen global shared by all devices.
 */
import { INTENDED_SUFFIX, RESERVED_COUNTER_KEYS } from '../../shared/metrics.js';
import { HTTP_TOKEN } from '../protocols/http-grammar.js';
import { GUEST_BERT } from './guest-bert.js';
import { HASH_ALGORITHMS, MESSAGE_AS, METRIC_KEY, OPERATION, OUTBOX } from './mailbox.js';
import { DEVICE_API } from '../../shared/script/script-source.js';

export const GUEST_PRELUDE = String.raw`(function (host, paramsJson) {
'use strict';
const G = globalThis;
const parse = JSON.parse, stringify = JSON.stringify;
const apply = Reflect.apply, freeze = Object.freeze, keys = Object.keys, defineProperty = Object.defineProperty;
const fromCharCode = String.fromCharCode, isView = ArrayBuffer.isView, isArray = Array.isArray;
const U8 = Uint8Array, AB = ArrayBuffer, Internal = InternalError;
const isFiniteNumber = Number.isFinite, isInteger = Number.isInteger;
const resolved = Promise.resolve();
const hostRandom = host.random, hostHash = host.hash, hostHmac = host.hmac;
const hostWsFetch = host.wsFetch;
const KEY = ${METRIC_KEY};
const RESERVED_COUNTER_KEY = /^(${RESERVED_COUNTER_KEYS.join('|')})$/;
const INTENDED = '${INTENDED_SUFFIX}';
const TOKEN = ${HTTP_TOKEN};
const BAD_VALUE = /[\r\n\0]/;
const ALGORITHMS = ${JSON.stringify(HASH_ALGORITHMS)};
const MAX_RANDOM_BYTES = 1048576;
const noop = () => {};

class DeviceError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
defineProperty(DeviceError.prototype, 'name', { value: 'DeviceError', writable: true, configurable: true });
const bad = (message) => new DeviceError('bad_argument', message);

function deepFreeze(v) {
  if (v !== null && typeof v === 'object') {
    freeze(v);
    for (const k of keys(v)) deepFreeze(v[k]);
  }
  return v;
}

function options(o, fn) {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object') throw bad(fn + ': options must be an object');
  return o;
}

function utf8Encode(s) {
  const out = new U8(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) { out[n++] = c; continue; }
    if (c < 0x800) { out[n++] = 0xc0 | (c >> 6); out[n++] = 0x80 | (c & 63); continue; }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[n++] = 0xf0 | (c >> 18); out[n++] = 0x80 | ((c >> 12) & 63);
        out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63);
        continue;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    out[n++] = 0xe0 | (c >> 12); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63);
  }
  return out.slice(0, n);
}

function codesToString(codes, n) {
  let s = '';
  for (let i = 0; i < n; i += 8192) s += apply(fromCharCode, null, codes.slice(i, Math.min(n, i + 8192)));
  return s;
}

const cont = (b, i) => (b[i] & 0xc0) === 0x80;
function utf8Decode(b) {
  const codes = new Array(b.length);
  let n = 0;
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let cp = 0xfffd, len = 1;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c < 0xe0) {
      if (i + 1 < b.length && cont(b, i + 1)) { cp = ((c & 31) << 6) | (b[i + 1] & 63); len = 2; }
    } else if (c >= 0xe0 && c < 0xf0) {
      if (i + 2 < b.length && cont(b, i + 1) && cont(b, i + 2)) {
        const v = ((c & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63);
        if (v >= 0x800 && (v < 0xd800 || v >= 0xe000)) { cp = v; len = 3; }
      }
    } else if (c >= 0xf0 && c < 0xf5) {
      if (i + 3 < b.length && cont(b, i + 1) && cont(b, i + 2) && cont(b, i + 3)) {
        const v = ((c & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63);
        if (v >= 0x10000 && v < 0x110000) { cp = v; len = 4; }
      }
    }
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      codes[n++] = 0xd800 + (cp >> 10);
      codes[n++] = 0xdc00 + (cp & 1023);
    } else codes[n++] = cp;
  }
  return codesToString(codes, n);
}

function toBytes(v, what) {
  if (typeof v === 'string') return utf8Encode(v);
  if (v instanceof U8) return v;
  if (v instanceof AB) return new U8(v);
  if (isView(v)) return new U8(v.buffer, v.byteOffset, v.byteLength);
  throw bad(what + ' must be a string or a Uint8Array');
}

function hostData(v, what) {
  if (typeof v === 'string') return v;
  const b = toBytes(v, what);
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64_STD = B64 + '+/', B64_URL = B64 + '-_';
function decodeTable(alphabet) {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const TABLE_STD = decodeTable(B64_STD), TABLE_URL = decodeTable(B64_URL);

function base64Encode(data, opts) {
  const b = toBytes(data, 'base64.encode: data');
  const o = options(opts, 'base64.encode');
  const abc = o.url ? B64_URL : B64_STD;
  const pad = o.padding === undefined ? true : !!o.padding;
  const codes = new Array(Math.ceil(b.length / 3) * 4);
  let n = 0, i = 0;
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    codes[n++] = abc.charCodeAt(v >> 18); codes[n++] = abc.charCodeAt((v >> 12) & 63);
    codes[n++] = abc.charCodeAt((v >> 6) & 63); codes[n++] = abc.charCodeAt(v & 63);
  }
  const rest = b.length - i;
  if (rest > 0) {
    const v = (b[i] << 16) | (rest === 2 ? b[i + 1] << 8 : 0);
    codes[n++] = abc.charCodeAt(v >> 18); codes[n++] = abc.charCodeAt((v >> 12) & 63);
    if (rest === 2) codes[n++] = abc.charCodeAt((v >> 6) & 63);
    if (pad) { codes[n++] = 61; if (rest === 1) codes[n++] = 61; }
  }
  return codesToString(codes, n);
}

function base64Decode(str, opts) {
  if (typeof str !== 'string') throw bad('base64.decode: expects a string');
  const o = options(opts, 'base64.decode');
  const table = o.url ? TABLE_URL : TABLE_STD;
  let end = str.length;
  while (end > 0 && str.charCodeAt(end - 1) === 61) end--;
  const padding = str.length - end;
  if (end % 4 === 1 || padding > 2 || (padding > 0 && str.length % 4 !== 0)) throw bad('base64.decode: invalid length or padding');
  const out = new U8((end * 3) >> 2);
  let acc = 0, bits = 0, n = 0;
  for (let i = 0; i < end; i++) {
    const c = str.charCodeAt(i);
    const v = c < 128 ? table[c] : -1;
    if (v < 0) throw bad('base64.decode: invalid character at index ' + i);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[n++] = (acc >> bits) & 255; }
  }
  return out;
}

const HEX = '0123456789abcdef';
function hexEncode(data) {
  const b = toBytes(data, 'hex.encode: data');
  const codes = new Array(b.length * 2);
  for (let i = 0; i < b.length; i++) { codes[2 * i] = HEX.charCodeAt(b[i] >> 4); codes[2 * i + 1] = HEX.charCodeAt(b[i] & 15); }
  return codesToString(codes, codes.length);
}
function hexDigit(c) {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
function hexDecode(str) {
  if (typeof str !== 'string' || str.length % 2 !== 0) throw bad('hex.decode: expects a string of even length');
  const out = new U8(str.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(str.charCodeAt(2 * i)), lo = hexDigit(str.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw bad('hex.decode: invalid digit near index ' + 2 * i);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function algorithm(alg, fn) {
  if (ALGORITHMS.indexOf(alg) < 0) throw bad(fn + ': algorithm must be one of ' + ALGORITHMS.join(', '));
  return alg;
}
function hostBytes(result, fn) {
  if (!(result instanceof AB)) throw new DeviceError('unknown', fn + ' failed');
  return new U8(result);
}

function byteCount(n, max, fn) {
  if (!isInteger(n) || n < 0 || n > max) throw bad(fn + ': n must be an integer from 0 to ' + max);
  return n;
}
function randomBytes(n) {
  byteCount(n, MAX_RANDOM_BYTES, 'randomBytes');
  return hostBytes(hostRandom(n), 'randomBytes');
}
function randomBits(n) {
  byteCount(n, MAX_RANDOM_BYTES * 8, 'randomBits');
  const b = hostBytes(hostRandom((n + 7) >> 3), 'randomBits');
  const extra = b.length * 8 - n;
  if (extra > 0) b[0] &= 0xff >> extra;
  return b;
}

function metricKey(key, fn) {
  if (typeof key !== 'string' || !KEY.test(key)) throw bad(fn + ': key must match ${METRIC_KEY}, got ' + stringify(String(key)));
  return key;
}

let counts = new Map();
let durations = [];
function incCounter(key, value) {
  metricKey(key, 'incCounter');
  if (RESERVED_COUNTER_KEY.test(key)) throw bad('incCounter: the key ' + stringify(key) + ' is reserved: its columns are a generator metric\'s');
  if (value === undefined) value = 1;
  else if (typeof value !== 'number' || !isInteger(value) || value < 0) throw bad('incCounter: value must be a non-negative integer, got ' + (typeof value === 'number' ? value : typeof value));
  counts.set(key, (counts.get(key) || 0) + value);
}

class JsonBody {
  constructor(value) { this.value = value; freeze(this); }
}
freeze(JsonBody.prototype);
const json = (value) => new JsonBody(value);

const BERT_CODEC = (${GUEST_BERT})(utf8Encode, utf8Decode, bad, (message) => new DeviceError('protocol', message));
class BertBody {
  constructor(value) { this.value = value; freeze(this); }
}
freeze(BertBody.prototype);
const bert = (value) => new BertBody(value);
bert.encode = BERT_CODEC.encode;
bert.decode = BERT_CODEC.decode;
bert.atom = BERT_CODEC.atom;
bert.tuple = BERT_CODEC.tuple;
bert.dict = BERT_CODEC.dict;
bert.Atom = BERT_CODEC.Atom;
bert.Tuple = BERT_CODEC.Tuple;
freeze(bert);

function define(name, value) {
  defineProperty(G, name, { value: value, writable: false, enumerable: false, configurable: false });
}
define('params', deepFreeze(parse(paramsJson)));
define('incCounter', incCounter);
define('randomBits', randomBits);
define('randomBytes', randomBytes);
define('json', json);
define('bert', bert);
define('base64', freeze({ encode: base64Encode, decode: base64Decode }));
define('hex', freeze({ encode: hexEncode, decode: hexDecode }));
define('text', freeze({
  encode(s) { if (typeof s !== 'string') throw bad('text.encode: expects a string'); return utf8Encode(s); },
  decode(b) { return utf8Decode(toBytes(b, 'text.decode: data')); },
}));
define('crypto', freeze({
  hash(alg, data) {
    return hostBytes(hostHash(algorithm(alg, 'crypto.hash'), hostData(data, 'crypto.hash: data')), 'crypto.hash');
  },
  hmac(alg, key, data) {
    algorithm(alg, 'crypto.hmac');
    return hostBytes(hostHmac(alg, hostData(key, 'crypto.hmac: key'), hostData(data, 'crypto.hmac: data')), 'crypto.hmac');
  },
}));

let seq = 0;
// Outbox lines: '<tag>,<opId>,<deviceId>,<rest>' (see mailbox.ts).
let out = [];
let done = [];
let bins = [], binLength = 0, takenBinary = null;
const waits = new Map();
const devices = new Map();
let script = null;
let used = [];

// Queues an operation whose outbox line is tag + ',' + id + ',' + device + ',' + rest.
function op(st, kind, tag, rest) {
  if (st.dead) return new Promise(noop);
  const id = ++seq;
  out.push(tag + ',' + id + ',' + st.id + ',' + rest);
  st.w.push(id);
  // Timings started since the device's last operation begin when this one leaves.
  const starts = st.p;
  st.p = undefined;
  return new Promise((resolve, reject) => { waits.set(id, [resolve, reject, st, kind, starts]); });
}
const opJson = (st, kind, payload) => op(st, kind, kind, stringify(payload));
// A path that crosses as plain text: no line break, no NUL, no lone surrogate half.
const PLAIN_PATH = /^[^\n\0\ud800-\udfff]*$/;

function unlink(st, id) {
  const i = st.w.indexOf(id);
  if (i >= 0) st.w.splice(i, 1);
}

function headerList(headers, fn) {
  const list = [];
  const add = (name, value) => {
    if (typeof name !== 'string' || !TOKEN.test(name)) throw bad(fn + ': invalid header name ' + stringify(String(name)));
    if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
    if (typeof value !== 'string' || BAD_VALUE.test(value)) throw bad(fn + ': invalid value for header ' + name);
    list.push([name, value]);
  };
  if (headers === undefined || headers === null) return list;
  if (isArray(headers)) {
    for (const pair of headers) {
      if (!isArray(pair) || pair.length !== 2) throw bad(fn + ': headers must be [name, value] pairs');
      add(pair[0], pair[1]);
    }
  } else if (typeof headers === 'object') {
    for (const name of keys(headers)) add(name, headers[name]);
  } else throw bad(fn + ': headers must be an object or an array of [name, value] pairs');
  return list;
}

function bodySpec(body, headers, fn) {
  if (body === undefined || body === null) return null;
  if (body instanceof JsonBody) {
    let s;
    try { s = stringify(body.value); } catch (e) { throw bad(fn + ': json() value cannot be serialised: ' + e.message); }
    if (typeof s !== 'string') throw bad(fn + ': json() value cannot be serialised');
    if (!headers.some((h) => h[0].toLowerCase() === 'content-type')) headers.push(['content-type', 'application/json']);
    return ['s', s];
  }
  if (typeof body === 'string') return ['s', body];
  let bytes;
  if (body instanceof BertBody) {
    try { bytes = BERT_CODEC.encode(body.value); } catch (e) { throw bad(fn + ': ' + e.message); }
    if (!headers.some((h) => h[0].toLowerCase() === 'content-type')) headers.push(['content-type', 'application/x-bert']);
  } else bytes = toBytes(body, fn + ': body').slice();
  bins.push(bytes);
  binLength += bytes.length;
  return ['b', binLength - bytes.length, bytes.length];
}

function http(st, method, path, headers, body) {
  const fn = method === 'DELETE' ? 'del' : method.toLowerCase();
  try {
    if (typeof path !== 'string' || path === '') throw bad(fn + ': path must be a non-empty string');
    const list = headerList(headers, fn);
    const spec = bodySpec(body, list, fn);
    if (list.length === 0 && spec === null && PLAIN_PATH.test(path)) return op(st, '${OPERATION.request}', '${OPERATION.plainRequest}', method + ',' + path);
    return opJson(st, '${OPERATION.request}', [method, path, list, spec]);
  } catch (e) {
    return Promise.reject(e);
  }
}

function wsUpgrade(st, path, headers) {
  try {
    if (typeof path !== 'string' || path === '') throw bad('wsUpgrade: path must be a non-empty string');
    return opJson(st, '${OPERATION.wsUpgrade}', [path, headerList(headers, 'wsUpgrade')]);
  } catch (e) {
    return Promise.reject(e);
  }
}

// A text frame carries a string; a binary frame bytes, or a string sent as its UTF-8 bytes.
function wsSend(st, binary, data, fn) {
  try {
    if (typeof data === 'string') return opJson(st, '${OPERATION.wsSend}', [binary, ['s', data]]);
    if (binary === 0) throw bad(fn + ': expects a string');
    return opJson(st, '${OPERATION.wsSend}', [1, bodySpec(toBytes(data, fn + ': data'), null, fn)]);
  } catch (e) {
    return Promise.reject(e);
  }
}

function wsSendJson(st, value) {
  let s;
  try { s = stringify(value); } catch (e) { return Promise.reject(bad('wsSendJson: value cannot be serialised: ' + e.message)); }
  if (typeof s !== 'string') return Promise.reject(bad('wsSendJson: value cannot be serialised'));
  return opJson(st, '${OPERATION.wsSend}', [0, ['s', s]]);
}

function wsReceive(st, as, timeoutMs, fn) {
  if (timeoutMs === undefined) timeoutMs = 5000;
  if (typeof timeoutMs !== 'number' || !isFiniteNumber(timeoutMs) || timeoutMs < 0) return Promise.reject(bad(fn + ': timeoutMs must be a finite number >= 0'));
  return opJson(st, '${OPERATION.wsReceive}', [as, timeoutMs]);
}

function jsonMessage(s, fn) {
  try { return parse(s); } catch (e) { throw new DeviceError('protocol', fn + ': WebSocket message is not JSON'); }
}

function wsFetch(st, as, fn) {
  const r = hostWsFetch(st.id, as);
  if (r === null) return null;
  if (typeof r === 'string') return as === '${MESSAGE_AS.json}' ? jsonMessage(r, fn) : r;
  if (r instanceof AB) return new U8(r);
  if (r !== undefined && typeof r === 'object') throw new DeviceError(r.code, r.message);
  throw new DeviceError('unknown', fn + ' failed');
}

// TCP: bytes onto the stream; UDP: one datagram. A string goes as its UTF-8 bytes.
function socketSend(st, data) {
  try {
    if (typeof data === 'string') return opJson(st, '${OPERATION.socketSend}', ['s', data]);
    return opJson(st, '${OPERATION.socketSend}', bodySpec(toBytes(data, 'send: data'), null, 'send'));
  } catch (e) {
    return Promise.reject(e);
  }
}

function socketRecv(st, timeoutMs) {
  if (timeoutMs === undefined) timeoutMs = 5000;
  if (typeof timeoutMs !== 'number' || !isFiniteNumber(timeoutMs) || timeoutMs < 0) return Promise.reject(bad('recv: timeoutMs must be a finite number >= 0'));
  return opJson(st, '${OPERATION.socketRecv}', timeoutMs);
}

function delay(st, ms, ratio) {
  if (ratio === undefined) ratio = 0;
  if (typeof ms !== 'number' || !isFiniteNumber(ms) || ms < 0) return Promise.reject(bad('delay: ms must be a finite number >= 0'));
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) return Promise.reject(bad('delay: randomRatio must be a number from 0 to 1'));
  return op(st, '${OPERATION.delay}', '${OPERATION.delay}', '' + ms * (1 + ratio * (2 * Math.random() - 1)));
}

// A started timing is a mark whose time (µs) the device's next operation fills
// in with the moment it left the host; until then it is the device's clock.
function startTiming(st, key) {
  metricKey(key, 'startTiming');
  const mark = { at: undefined };
  (st.t || (st.t = new Map())).set(key, mark);
  (st.p || (st.p = [])).push(mark);
}
function stopTiming(st, key) {
  metricKey(key, 'stopTiming');
  const mark = st.t === undefined ? undefined : st.t.get(key);
  if (mark === undefined) throw bad('stopTiming: no timing started for ' + stringify(key));
  st.t.delete(key);
  durations.push(key, st.now - (mark.at === undefined ? st.now : mark.at));
  // An arrival-rate iteration's twin, from when the iteration should have started.
  if (st.i !== undefined) durations.push(key + INTENDED, st.now - st.i);
}
function stopStartTiming(st, stopKey, startKey) {
  metricKey(startKey, 'stopStartTiming');
  stopTiming(st, stopKey);
  startTiming(st, startKey);
}

// Device-bound functions by name; the wrapper takes them as parameters in DEVICE_API's order (script-source.ts).
const MAKER = {
  get: (st) => (path, headers) => http(st, 'GET', path, headers, undefined),
  head: (st) => (path, headers) => http(st, 'HEAD', path, headers, undefined),
  options: (st) => (path, headers) => http(st, 'OPTIONS', path, headers, undefined),
  del: (st) => (path, headers) => http(st, 'DELETE', path, headers, undefined),
  post: (st) => (path, headers, body) => http(st, 'POST', path, headers, body),
  put: (st) => (path, headers, body) => http(st, 'PUT', path, headers, body),
  patch: (st) => (path, headers, body) => http(st, 'PATCH', path, headers, body),
  wsUpgrade: (st) => (path, headers) => wsUpgrade(st, path, headers),
  wsSendText: (st) => (data) => wsSend(st, 0, data, 'wsSendText'),
  wsSendBinary: (st) => (data) => wsSend(st, 1, data, 'wsSendBinary'),
  wsSendJson: (st) => (value) => wsSendJson(st, value),
  wsReceiveText: (st) => (timeoutMs) => wsReceive(st, '${MESSAGE_AS.text}', timeoutMs, 'wsReceiveText'),
  wsReceiveBinary: (st) => (timeoutMs) => wsReceive(st, '${MESSAGE_AS.binary}', timeoutMs, 'wsReceiveBinary'),
  wsReceiveJson: (st) => (timeoutMs) => wsReceive(st, '${MESSAGE_AS.json}', timeoutMs, 'wsReceiveJson'),
  wsFetchText: (st) => () => wsFetch(st, '${MESSAGE_AS.text}', 'wsFetchText'),
  wsFetchBinary: (st) => () => wsFetch(st, '${MESSAGE_AS.binary}', 'wsFetchBinary'),
  wsFetchJson: (st) => () => wsFetch(st, '${MESSAGE_AS.json}', 'wsFetchJson'),
  delay: (st) => (ms, randomRatio) => delay(st, ms, randomRatio),
  startTiming: (st) => (key) => startTiming(st, key),
  stopTiming: (st) => (key) => stopTiming(st, key),
  stopStartTiming: (st) => (stopKey, startKey) => stopStartTiming(st, stopKey, startKey),
  send: (st) => (data) => socketSend(st, data),
  recv: (st) => (timeoutMs) => socketRecv(st, timeoutMs),
};
const MAKERS = ${JSON.stringify(DEVICE_API)}.map((name) => MAKER[name]);

function classify(e) {
  try {
    if (e instanceof Internal) {
      if (e.message === 'interrupted') return 'cpu_limit';
      if (e.message === 'out of memory') return 'memory_limit';
      if (e.message === 'stack overflow') return 'stack_overflow';
    }
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      const code = e.code;
      if (typeof code === 'string' && KEY.test(code)) return code;
    }
  } catch (_) {}
  return 'script';
}
function describe(e) {
  try {
    const m = e !== null && typeof e === 'object' && typeof e.message === 'string' ? e.message : String(e);
    return m.length > 500 ? m.slice(0, 500) : m;
  } catch (_) {
    return 'unprintable error';
  }
}

const staged = new Map();
function stage(id, fn, value) {
  const list = staged.get(id);
  if (list === undefined) staged.set(id, [fn, value]);
  else list.push(fn, value);
}

const startAt = (args) => start(args[0], args[1]);

function retire(st) {
  st.dead = true;
  staged.delete(st.id);
  if (devices.get(st.id) === st) devices.delete(st.id);
  for (const id of st.w) waits.delete(id);
  st.w = [];
}

// The entry goes into the outbox before any script-defined getter runs, so a
// device always reports its end even if describing the error is interrupted.
function finish(st, failed, e) {
  if (st.dead) return;
  retire(st);
  if (!failed) { done.push([st.id]); return; }
  const entry = [st.id, 'script', ''];
  done.push(entry);
  entry[1] = classify(e);
  entry[2] = describe(e);
}

// s: a device id, or [id, intended start in µs] for an arrival-rate iteration; now: the host clock (µs).
function start(s, now) {
  const id = typeof s === 'number' ? s : s[0];
  // w: ids of pending operations; t: started timings; p: timing marks the next operation fills;
  // now: the device's clock (µs); i: the intended start of an arrival-rate iteration (µs).
  const st = { id: id, w: [], t: undefined, p: undefined, now: now, i: typeof s === 'number' ? undefined : s[1], dead: false };
  devices.set(id, st);
  const args = new Array(MAKERS.length);
  for (let i = 0; i < MAKERS.length; i++) if (used[i]) args[i] = MAKERS[i](st);
  // Starting inside a job lets the host's per-job CPU budget cover the script's first slice too.
  resolved.then(() => apply(script, undefined, args)).then(() => finish(st, false), (e) => finish(st, true, e));
}

// A BERT body that does not decode is handed over as its bytes, as bad JSON is as text; json and bert say which it was.
function response(v, buffer) {
  let body = v[3], isBert = false;
  if (v[2] === 'b' || v[2] === 'e') body = buffer === null ? new U8(0) : new U8(buffer.slice(body[0], body[0] + body[1]));
  if (v[2] === 'e') {
    try { body = BERT_CODEC.decode(body); isBert = true; } catch (_) {}
  }
  return { status: v[0], headers: v[1], body: body, json: v[2] === 'j', bert: isBert };
}

// [status, headers, bodyKind, body, 0 | refusal message]: a refusal rejects, carrying the response.
function upgraded(v, buffer) {
  const r = response(v, buffer);
  if (v[4] === 0) return { status: r.status, headers: r.headers, body: r.body };
  const e = new DeviceError('ws_upgrade_refused', v[4]);
  e.status = r.status; e.headers = r.headers; e.body = r.body;
  e.response = { status: r.status, headers: r.headers, body: r.body };
  return Promise.reject(e);
}

function message(v, buffer) {
  if (v[0] !== 'b') return v[1];
  return buffer === null ? new U8(0) : new U8(buffer.slice(v[1][0], v[1][0] + v[1][1]));
}

// The value an operation resolves with, from its result entry.
function settle(kind, v, buffer) {
  if (kind === '${OPERATION.request}') return response(v, buffer);
  if (kind === '${OPERATION.wsReceive}') return message(v, buffer);
  if (kind === '${OPERATION.wsUpgrade}') return upgraded(v, buffer);
  if (kind === '${OPERATION.socketRecv}') return buffer === null ? new U8(0) : new U8(buffer.slice(v[0], v[0] + v[1]));
  return undefined;
}

return freeze({
  setScript(fn, usedJson) {
    if (typeof fn !== 'function') throw new TypeError('the script did not compile to a function');
    script = fn;
    used = parse(usedJson);
  },
  // results: JSON array of [opId, sentUs, atUs] (done, no value), [opId, sentUs,
  // atUs, value] or [opId, sentUs, atUs, code, message] (failed), in the order
  // the host saw them; kills: JSON array of device ids; starts: JSON array
  // [nowUs, start...]. Each is null when there is none.
  // Results and starts wait here per device until the host wakes that device
  // alone, so that what it allocates and how long it runs are measured as its own.
  turn(results, kills, starts, buffer) {
    // Kills first: a result for a device stopped this turn must find no waiter.
    if (kills !== null) {
      for (const id of parse(kills)) {
        const st = devices.get(id);
        if (st !== undefined) retire(st);
        staged.delete(id);
      }
    }
    if (results !== null) {
      for (const r of parse(results)) {
        const id = r[0];
        const w = waits.get(id);
        if (w === undefined) continue;
        waits.delete(id);
        const st = w[2];
        unlink(st, id);
        if (r[2] > st.now) st.now = r[2];
        const marks = w[4];
        if (marks !== undefined) for (const mark of marks) mark.at = r[1];
        if (r.length === 5) stage(st.id, w[1], new DeviceError(r[3], r[4]));
        else stage(st.id, w[0], r.length === 3 ? undefined : settle(w[3], r[3], buffer));
      }
    }
    if (starts !== null) {
      const s = parse(starts);
      // A start is an id, or [id, intended start in µs] for an arrival-rate iteration.
      for (let i = 1; i < s.length; i++) stage(typeof s[i] === 'number' ? s[i] : s[i][0], startAt, [s[i], s[0]]);
    }
  },
  wake(id) {
    const list = staged.get(id);
    if (list === undefined) return;
    staged.delete(id);
    for (let i = 0; i < list.length; i += 2) list[i](list[i + 1]);
  },
  // Lines: the operation lines, then the OUTBOX lines of mailbox.ts.
  take() {
    if (out.length === 0 && done.length === 0 && counts.size === 0 && durations.length === 0) return '';
    const tail = [];
    if (binLength > 0) {
      const all = new U8(binLength);
      let offset = 0;
      for (const b of bins) { all.set(b, offset); offset += b.length; }
      takenBinary = all.buffer;
      tail.push('${OUTBOX.binary}');
    }
    for (const e of done) tail.push(e.length === 1 ? '${OUTBOX.ended},' + e[0] : '${OUTBOX.failed},' + e[0] + ',' + stringify([e[1], e[2]]));
    counts.forEach((v, k) => { tail.push('${OUTBOX.count},' + k + ',' + v); });
    for (let i = 0; i < durations.length; i += 2) tail.push('${OUTBOX.timing},' + durations[i] + ',' + durations[i + 1]);
    // Nothing is emptied before the text exists: if building it fails, the next take sends it all.
    const message = (tail.length === 0 ? out : out.concat(tail)).join('\n');
    out = []; done = []; durations = []; bins = []; binLength = 0;
    counts.clear();
    return message;
  },
  takeBinary() {
    const b = takenBinary;
    takenBinary = null;
    return b;
  },
});
})`;
