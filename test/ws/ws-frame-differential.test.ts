/**
 * Our WebSocket frame reader held to ws's `Receiver` (client side, no extension):
 * generated server frame streams (text, binary, fragments with pings between
 * them, close frames), then the same streams with bits flipped, are read by both
 * (with the same message size cap),
 * ours fed in random chunks. Both must deliver the same messages, pings and close,
 * or both refuse the stream. Pongs are left out: our reader drops them.
 */
import test from 'ava';
import type { Writable } from 'node:stream';
import * as ws from 'ws';
import { MAX_MESSAGE_BYTES, WsFrameParser } from '../../ts/generator/protocols/ws-frame-parser.js';
import { random } from '../support/random.js';

/** ws's frame reader (its typings leave it out). */
const { Receiver } = ws as unknown as { Receiver: new (options: Record<string, unknown>) => Writable };

type Event = ['message', boolean, string] | ['ping', string] | ['close', number, string];
interface Outcome {
  events: Event[];
  refused: boolean;
}

/** An unmasked server frame. */
function frame(fin: boolean, opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) head[1] = n;
  else if (n < 65536) {
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 127;
    head.writeUInt32BE(0, 2);
    head.writeUInt32BE(n, 6);
  }
  return Buffer.concat([head, payload]);
}

const TEXTS = ['', 'a', 'héllo wörld', '日本語のテキスト', '🙂 emoji', 'x'.repeat(200), 'y'.repeat(70_000)];

/** A valid stream of frames: messages (some fragmented, pings between fragments), ending in a close frame or not. */
function validStream(next: () => number): Buffer {
  const frames: Buffer[] = [];
  const count = 1 + Math.floor(next() * 5);
  for (let i = 0; i < count; i++) {
    const binary = next() < 0.3;
    const text = TEXTS[Math.floor(next() * TEXTS.length)]!;
    const data = binary ? Buffer.from(Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256))) : Buffer.from(text);
    const pieces = next() < 0.4 ? 1 + Math.floor(next() * 3) : 1;
    // Fragments split anywhere, even inside a UTF-8 sequence: only the whole message must be UTF-8.
    const cuts = Array.from({ length: pieces - 1 }, () => Math.floor(next() * (data.length + 1))).sort((a, b) => a - b);
    const bounds = [0, ...cuts, data.length];
    for (let p = 0; p < pieces; p++) {
      frames.push(frame(p === pieces - 1, p === 0 ? (binary ? 2 : 1) : 0, data.subarray(bounds[p], bounds[p + 1])));
      if (p < pieces - 1 && next() < 0.5) frames.push(frame(true, 9, Buffer.from(`ping ${i}`)));
    }
    if (next() < 0.2) frames.push(frame(true, 10, Buffer.from('pong')));
  }
  if (next() < 0.5) {
    const code = [1000, 1001, 1003, 1011, 3000, 4999][Math.floor(next() * 6)]!;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code);
    frames.push(frame(true, 8, next() < 0.5 ? body : Buffer.concat([body, Buffer.from('bye ✓')])));
  }
  return Buffer.concat(frames);
}

function ours(bytes: Buffer, next: () => number): Outcome {
  const events: Event[] = [];
  const parser = new WsFrameParser({
    message: (binary, data) => events.push(['message', binary, data.toString('hex')]),
    ping: (payload) => events.push(['ping', payload.toString('hex')]),
    closeFrame: (code, reason) => events.push(['close', code, reason]),
  });
  try {
    let at = 0;
    while (at < bytes.length) {
      const take = 1 + Math.floor(next() * Math.min(bytes.length - at, 1 + Math.floor(next() * 4096)));
      parser.push(bytes.subarray(at, at + take));
      at += take;
      // ws stops reading at a close frame: what follows it is not compared.
      if (events.some((e) => e[0] === 'close')) break;
    }
    return { events, refused: false };
  } catch {
    return { events, refused: true };
  }
}

async function theirs(bytes: Buffer): Promise<Outcome> {
  const events: Event[] = [];
  let refused = false;
  const receiver = new Receiver({ isServer: false, binaryType: 'nodebuffer', maxPayload: MAX_MESSAGE_BYTES });
  receiver.on('message', (data: Buffer, isBinary: boolean): number => events.push(['message', isBinary, data.toString('hex')]));
  receiver.on('ping', (payload: Buffer) => events.push(['ping', payload.toString('hex')]));
  receiver.on('conclude', (code: number, reason: Buffer) => events.push(['close', code, reason.toString('utf8')]));
  receiver.on('error', () => (refused = true));
  await new Promise<void>((resolve) => receiver.write(bytes, () => resolve()));
  await new Promise((resolve) => setImmediate(resolve));
  return { events, refused };
}

/** Compared as both saw it: a stream cut short by a close frame ends there. */
function agree(a: Outcome, b: Outcome): boolean {
  return a.refused === b.refused && JSON.stringify(a.events) === JSON.stringify(b.events);
}

test('valid server frame streams: ours and ws agree on every message, ping and close', async (t) => {
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    const bytes = validStream(next);
    const [a, b] = [ours(bytes, next), await theirs(bytes)];
    t.false(b.refused, `seed ${seed}: ws refused a valid stream`);
    if (!agree(a, b)) return t.fail(`seed ${seed}: ours ${JSON.stringify(a).slice(0, 300)} ≠ ws ${JSON.stringify(b).slice(0, 300)}`);
  }
  t.pass();
});

test('mutated streams (bits flipped in headers and payloads): ours and ws agree, or both refuse', async (t) => {
  let refusedByBoth = 0;
  for (let seed = 1; seed <= 2000; seed++) {
    const next = random(seed * 7919);
    const bytes = Buffer.from(validStream(next));
    const flips = 1 + Math.floor(next() * 3);
    for (let f = 0; f < flips; f++) {
      // Headers are where framing breaks: aim half the flips at the first bytes.
      const at = next() < 0.5 ? Math.floor(next() * Math.min(bytes.length, 12)) : Math.floor(next() * bytes.length);
      bytes[at]! ^= 1 << Math.floor(next() * 8);
    }
    const [a, b] = [ours(bytes, next), await theirs(bytes)];
    if (a.refused && b.refused) refusedByBoth++;
    // A flipped length can leave a frame unfinished: then neither may have said anything the other did not.
    if (!agree(a, b)) return t.fail(`seed ${seed * 7919}: ours ${JSON.stringify(a).slice(0, 300)} ≠ ws ${JSON.stringify(b).slice(0, 300)}`);
  }
  t.true(refusedByBoth > 100, `${refusedByBoth} mutated streams refused by both`);
});

test('text frames that are not UTF-8 are refused (RFC 6455 8.1), as ws refuses them; so are bad close frames', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['a lone continuation byte', frame(true, 1, Buffer.from([0x80]))],
    ['an overlong encoding of "/"', frame(true, 1, Buffer.from([0xc0, 0xaf]))],
    ['a UTF-16 surrogate', frame(true, 1, Buffer.from([0xed, 0xa0, 0x80]))],
    ['a code point past U+10FFFF', frame(true, 1, Buffer.from([0xf4, 0x90, 0x80, 0x80]))],
    ['a sequence cut at the end of the message', Buffer.concat([frame(false, 1, Buffer.from('ok')), frame(true, 0, Buffer.from([0xe6, 0x97]))])],
    ['a close frame of one byte', frame(true, 8, Buffer.from([0x03]))],
    ['close code 1005, which no peer sends', frame(true, 8, Buffer.from([0x03, 0xed]))],
    ['close code 999', frame(true, 8, Buffer.from([0x03, 0xe7]))],
    ['a close reason that is not UTF-8', frame(true, 8, Buffer.from([0x03, 0xe8, 0xff]))],
  ];
  for (const [what, bytes] of cases) {
    const [a, b] = [ours(bytes, random(1)), await theirs(bytes)];
    t.true(b.refused, `ws refuses ${what}`);
    t.true(a.refused, `ours refuses ${what}`);
    t.deepEqual(a.events, [], what);
  }
});
