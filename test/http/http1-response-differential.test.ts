/**
 * Our HTTP/1 response parser held to llhttp (Node's and undici's parser, driven
 * here through undici's WebAssembly build): generated responses (content-length,
 * chunked with extensions and trailers, close-delimited, interim 1xx before the
 * real one, HEAD, 204/304, 101 with the new protocol's bytes behind it), then the
 * same responses with bytes flipped, dropped or cut, are parsed by both, ours
 * fed in random chunks. Both must agree on the status, the headers, the body
 * bytes and where the response ends, or both refuse it; the one leeway is a bare
 * CR or LF, which llhttp tolerates in places and we refuse everywhere.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { Http1ResponseParser } from '../../ts/generator/protocols/http1-response-parser.js';
import { random } from '../support/random.js';

/** The engine's WebAssembly (this project compiles without the DOM typings that declare it). */
const Wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object, imports: object) => { exports: object } } }).WebAssembly;

const require = createRequire(import.meta.url);
const LLHTTP = require('undici/lib/llhttp/constants.js') as { TYPE: { RESPONSE: number }; ERROR: { OK: number; PAUSED: number; PAUSED_UPGRADE: number } };

interface Outcome {
  refused: boolean;
  status?: number;
  headers?: Array<[string, string]>;
  body?: string;
  /** Bytes of the input the response took, up to its end. */
  consumed?: number;
}

/** One message being read by llhttp: what its callbacks saw. */
interface Reading {
  head: boolean;
  status: number;
  headers: Array<[string, string]>;
  field: string;
  value: string;
  inField: boolean;
  headersDone: boolean;
  body: Buffer[];
  complete: boolean;
}

interface LlhttpExports {
  memory: { buffer: ArrayBuffer };
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(parser: number): void;
  llhttp_execute(parser: number, data: number, length: number): number;
  llhttp_finish(parser: number): number;
  llhttp_get_error_pos(parser: number): number;
}

let reading: Reading;
const text = (at: number, len: number): string => Buffer.from(llhttp.memory.buffer, at, len).toString('latin1');
const endField = (): void => {
  if (reading.field !== '' && !reading.headersDone) reading.headers.push([reading.field.toLowerCase(), reading.value.replace(/^[ \t]+|[ \t]+$/g, '')]);
  reading.field = '';
  reading.value = '';
};

/** llhttp as undici builds it, with callbacks that record one message (undici's own Parser needs a socket and a request). */
const llhttp = new Wasm.Instance(new Wasm.Module(require('undici/lib/llhttp/llhttp-wasm.js') as Buffer), {
  env: {
    wasm_on_url: () => 0,
    wasm_on_status: () => 0,
    wasm_on_message_begin: () => {
      Object.assign(reading, { status: 0, headers: [], field: '', value: '', inField: false, headersDone: false, body: [] });
      return 0;
    },
    wasm_on_header_field: (_p: number, at: number, len: number) => {
      if (!reading.inField) endField();
      reading.inField = true;
      reading.field += text(at, len);
      return 0;
    },
    wasm_on_header_value: (_p: number, at: number, len: number) => {
      reading.inField = false;
      reading.value += text(at, len);
      return 0;
    },
    wasm_on_headers_complete: (_p: number, status: number) => {
      endField();
      reading.headersDone = true;
      reading.status = status;
      if (status === 101) return 2; // the rest is the new protocol's
      return reading.head ? 1 : 0; // 1: no body whatever the headers say
    },
    wasm_on_body: (_p: number, at: number, len: number) => {
      reading.body.push(Buffer.from(Buffer.from(llhttp.memory.buffer, at, len)));
      return 0;
    },
    wasm_on_message_complete: () => {
      // An interim response (1xx but 101) is followed by the real one: keep reading.
      if (reading.status >= 100 && reading.status < 200) return 0;
      reading.complete = true;
      return LLHTTP.ERROR.PAUSED;
    },
  },
}).exports as unknown as LlhttpExports;

function theirs(bytes: Buffer, head: boolean): Outcome {
  reading = { head, status: 0, headers: [], field: '', value: '', inField: false, headersDone: false, body: [], complete: false };
  const parser = llhttp.llhttp_alloc(LLHTTP.TYPE.RESPONSE);
  const data = llhttp.malloc(Math.max(1, bytes.length));
  try {
    new Uint8Array(llhttp.memory.buffer, data, bytes.length).set(bytes);
    let ret = llhttp.llhttp_execute(parser, data, bytes.length);
    let consumed = bytes.length;
    if (ret === LLHTTP.ERROR.PAUSED || ret === LLHTTP.ERROR.PAUSED_UPGRADE) {
      consumed = llhttp.llhttp_get_error_pos(parser) - data;
      if (ret === LLHTTP.ERROR.PAUSED_UPGRADE) reading.complete = true;
    } else if (ret === LLHTTP.ERROR.OK) {
      // The input is all there is: the server closed.
      ret = llhttp.llhttp_finish(parser);
      if (ret !== LLHTTP.ERROR.OK && ret !== LLHTTP.ERROR.PAUSED) return { refused: true };
    } else return { refused: true };
    if (!reading.complete) return { refused: true };
    return { refused: false, status: reading.status, headers: reading.headers, body: Buffer.concat(reading.body).toString('hex'), consumed };
  } finally {
    llhttp.free(data);
    llhttp.llhttp_free(parser);
  }
}

function ours(bytes: Buffer, head: boolean, next: () => number): Outcome {
  const parser = new Http1ResponseParser(head, 1);
  try {
    let at = 0;
    while (at < bytes.length && !parser.done) {
      const take = 1 + Math.floor(next() * Math.min(bytes.length - at, 1 + Math.floor(next() * 256)));
      parser.push(bytes.subarray(at, at + take));
      at += take;
    }
    if (!parser.done) parser.end();
    const consumed = at - (parser.afterEnd?.length ?? 0);
    return { refused: false, status: parser.status, headers: parser.headers, body: Buffer.from(parser.bodyBytes()).toString('hex'), consumed };
  } catch {
    return { refused: true };
  }
}

const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
const BODIES = ['', 'a', 'hello world', 'x'.repeat(300), '{"k":[1,2,3]}\r\n', '\r\n0\r\n\r\n'];
const EXTRA_HEADERS: Array<[string, string]> = [
  ['Content-Type', 'text/plain; charset=utf-8'],
  ['X-Empty', ''],
  ['Set-Cookie', 'a=b; Path=/'],
  ['Server', 'nginx/1.24.0'],
  ["X-Odd!#$%&'*+-.^_`|~", 'tchar name'],
  ['Date', 'Thu, 01 Jan 2026 00:00:00 GMT'],
  ['X-Spaces', '  padded  '],
  ['Cache-Control', 'no-cache, no-store'],
];

/** A valid response to a GET (or a HEAD), followed by the next response's bytes or by none. */
function validResponse(next: () => number): { bytes: Buffer; head: boolean } {
  const head = next() < 0.1;
  const framing = pick(next, ['length', 'length', 'chunked', 'chunked', 'close', 'nobody', 'upgrade'] as const);
  const status = framing === 'nobody' ? pick(next, [204, 304]) : framing === 'upgrade' ? 101 : pick(next, [200, 201, 404, 500, 302]);
  const body = framing === 'nobody' || framing === 'upgrade' ? '' : pick(next, BODIES);
  const headers: Array<[string, string]> = [];
  for (let i = Math.floor(next() * 4); i > 0; i--) headers.push(pick(next, EXTRA_HEADERS));
  let payload = '';
  if (framing === 'length') headers.push(['Content-Length', String(Buffer.byteLength(body))]);
  else if (framing === 'chunked') {
    headers.push(['Transfer-Encoding', next() < 0.2 ? 'gzip, chunked' : 'chunked']);
    const cuts = [0, ...Array.from({ length: Math.floor(next() * 3) }, () => Math.floor(next() * (body.length + 1))).sort((a, b) => a - b), body.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const piece = body.slice(cuts[i], cuts[i + 1]);
      if (piece === '') continue;
      payload += `${Buffer.byteLength(piece).toString(16)}${next() < 0.2 ? ';ext=1' : ''}\r\n${piece}\r\n`;
    }
    payload += `0\r\n${next() < 0.3 ? 'X-Trailer: done\r\n' : ''}\r\n`;
  } else if (framing === 'close') headers.push(['Connection', 'close']);
  else if (framing === 'upgrade') headers.push(['Upgrade', 'websocket'], ['Connection', 'Upgrade']);
  if (framing !== 'chunked' && framing !== 'nobody' && framing !== 'upgrade') payload = body;
  if (head) payload = '';
  const interim = next() < 0.15 ? pick(next, ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n']) : '';
  const reason = pick(next, [' OK', ' Whatever reason', '', ' ']);
  const text = `${interim}HTTP/1.1 ${status}${reason}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${payload}`;
  // What follows: nothing, a next response, or (after a 101) the new protocol's bytes.
  const after = framing === 'close' ? '' : framing === 'upgrade' ? '\x81\x02hi' : next() < 0.3 ? 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' : '';
  return { bytes: Buffer.from(text + after, 'latin1'), head };
}

const agree = (a: Outcome, b: Outcome): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * A CR not followed by LF, or an LF not preceded by CR, before where llhttp ended the
 * response. llhttp ends a status line at a lone CR and skips empty lines between
 * responses; we refuse any bare CR or LF in the framing (RFC 9112 2.2 lets a
 * recipient refuse them; they are how a message is smuggled past another parser).
 */
function bareLineEnd(bytes: Buffer, until: number): boolean {
  for (let i = 0; i < Math.min(until, bytes.length); i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a) return true;
    if (bytes[i] === 0x0a && bytes[i - 1] !== 0x0d) return true;
  }
  return false;
}
const show = (o: Outcome): string => JSON.stringify(o).slice(0, 400);

test('valid responses: ours and llhttp agree on status, headers, body and where the response ends', (t) => {
  for (let seed = 1; seed <= 1000; seed++) {
    const next = random(seed);
    const { bytes, head } = validResponse(next);
    const [a, b] = [ours(bytes, head, next), theirs(bytes, head)];
    t.false(b.refused, `seed ${seed}: llhttp refused a valid response ${JSON.stringify(bytes.toString('latin1'))}`);
    if (!agree(a, b)) return t.fail(`seed ${seed} ${JSON.stringify(bytes.toString('latin1'))}: ours ${show(a)} ≠ llhttp ${show(b)}`);
  }
  t.pass();
});

test('mutated responses (bytes flipped, dropped, duplicated or cut): ours and llhttp agree, or both refuse', (t) => {
  let refusedByBoth = 0;
  let stricter = 0;
  for (let seed = 1; seed <= 5000; seed++) {
    const next = random(seed * 7919);
    const { bytes: valid, head } = validResponse(next);
    let bytes = Buffer.from(valid);
    for (let m = 1 + Math.floor(next() * 2); m > 0 && bytes.length > 0; m--) {
      const at = Math.floor(next() * bytes.length);
      const kind = next();
      if (kind < 0.4) bytes[at]! ^= 1 << Math.floor(next() * 8);
      else if (kind < 0.6) bytes[at] = pick(next, [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x00, 0x3b, 0x2c]);
      else if (kind < 0.75) bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      else if (kind < 0.9) bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + 1), bytes.subarray(at)]);
      else bytes = bytes.subarray(0, at);
    }
    const [a, b] = [ours(bytes, head, next), theirs(bytes, head)];
    if (a.refused && b.refused) refusedByBoth++;
    if (a.refused && !b.refused && bareLineEnd(bytes, b.consumed!)) {
      stricter++;
      continue;
    }
    if (!agree(a, b)) return t.fail(`seed ${seed * 7919} ${JSON.stringify(bytes.toString('latin1'))}: ours ${show(a)} ≠ llhttp ${show(b)}`);
  }
  t.true(refusedByBoth > 500, `${refusedByBoth} mutated responses refused by both`);
  t.true(stricter < 100, `${stricter} responses with a bare CR or LF refused by ours only`);
  t.log(`${refusedByBoth} refused by both, ${stricter} with a bare CR or LF refused by ours only`);
});
