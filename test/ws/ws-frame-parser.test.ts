/**
 * The frame parser fed server frames in every split, and the encoder's frames
 * read back by `ws`'s own Receiver (the reference implementation), so both
 * directions are checked against an independent reader or writer.
 */
import test from 'ava';
import * as wsModule from 'ws';
import { encodeFrame } from '../../ts/generator/protocols/ws-frame-encoder.js';
import { OPCODE, WsFrameParser, type FrameHandler } from '../../ts/generator/protocols/ws-frame-parser.js';
import { DeviceError } from '../../ts/shared/errors.js';

// ws's own framing classes, the reference reader and writer; @types/ws does not declare them.
interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
const { Receiver, Sender } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean; binaryType: string; maxPayload: number }) => import('node:stream').Writable;
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
};

type Event = ['message', boolean, string] | ['ping', string] | ['close', number, string];

function collector(): { handler: FrameHandler; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    handler: {
      message: (binary, data) => events.push(['message', binary, data.toString('latin1')]),
      ping: (payload) => events.push(['ping', payload.toString()]),
      closeFrame: (code, reason) => events.push(['close', code, reason]),
    },
  };
}

/** Server frames (unmasked) as `ws`'s Sender writes them. */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const frames = Sender.frame(payload, { fin, opcode, mask: false, readOnly: false, rsv1: false });
  return Buffer.concat(frames);
}

const STREAM = Buffer.concat([
  serverFrame(OPCODE.text, Buffer.from('hello')),
  serverFrame(OPCODE.binary, Buffer.alloc(300, 7), false),
  serverFrame(OPCODE.ping, Buffer.from('p')),
  serverFrame(OPCODE.continuation, Buffer.alloc(70000, 8)),
  serverFrame(OPCODE.pong, Buffer.alloc(0)),
  serverFrame(OPCODE.text, Buffer.alloc(0)),
  serverFrame(OPCODE.close, Buffer.from([0x0f, 0xa0, 0x62, 0x79, 0x65])),
]);
const EXPECTED: Event[] = [
  ['message', false, 'hello'],
  ['ping', 'p'],
  ['message', true, Buffer.concat([Buffer.alloc(300, 7), Buffer.alloc(70000, 8)]).toString('latin1')],
  ['message', false, ''],
  ['close', 4000, 'bye'],
];

for (const split of [1, 2, 3, 7, 126, 4096, STREAM.length]) {
  test(`frames split every ${split} bytes parse the same`, (t) => {
    const { handler, events } = collector();
    const parser = new WsFrameParser(handler);
    for (let at = 0; at < STREAM.length; at += split) parser.push(STREAM.subarray(at, at + split));
    t.deepEqual(events, EXPECTED);
  });
}

test('broken frames are protocol errors', (t) => {
  const cases: Array<[string, Buffer]> = [
    ['masked by the server', Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0])],
    ['RSV bit', Buffer.from([0xc1, 0x00])],
    ['unknown opcode', Buffer.from([0x83, 0x00])],
    ['continuation without a message', Buffer.from([0x80, 0x00])],
    ['fragmented ping', Buffer.from([0x09, 0x00])],
    ['new message inside a fragmented one', Buffer.concat([serverFrame(OPCODE.text, Buffer.from('a'), false), serverFrame(OPCODE.text, Buffer.from('b'))])],
  ];
  for (const [what, bytes] of cases) {
    const parser = new WsFrameParser(collector().handler);
    const err = t.throws(() => parser.push(bytes), { instanceOf: DeviceError }, what);
    t.is(err.code, 'protocol', what);
  }
  const small = new WsFrameParser(collector().handler, 10);
  t.throws(() => small.push(serverFrame(OPCODE.binary, Buffer.alloc(11))), { message: /larger than 10 bytes/ });
});

test("encoded client frames read back through ws's Receiver, masked, at every length class", async (t) => {
  const receiver = new Receiver({ isServer: true, binaryType: 'nodebuffer', maxPayload: 0 });
  const got: Array<[boolean, string]> = [];
  receiver.on('message', (data: Buffer, isBinary: boolean) => got.push([isBinary, data.toString('latin1')]));
  const payloads = [Buffer.alloc(0), Buffer.alloc(125, 1), Buffer.alloc(126, 2), Buffer.alloc(65535, 3), Buffer.alloc(65536, 4), Buffer.from('tail')];
  for (const p of payloads) receiver.write(encodeFrame(OPCODE.binary, p));
  receiver.write(encodeFrame(OPCODE.text, 'héllo ✓'));
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(got, [...payloads.map((p) => [true, p.toString('latin1')] as [boolean, string]), [false, Buffer.from('héllo ✓').toString('latin1')]]);
  const frame = encodeFrame(OPCODE.text, 'x');
  t.is(frame[1]! & 0x80, 0x80, 'mask bit set');
});
