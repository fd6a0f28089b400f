/**
 * Why WebSocket devices frame their own messages: CPU per message of the
 * device's frame parser and encoder against `ws`'s own Receiver and Sender (the
 * alternative: running them on the device's raw socket), in one process, on
 * the same bytes, in alternating rounds so both see the same machine. Decoding
 * reads server frames (unmasked) fed in 16 KiB reads; encoding makes masked
 * client frames from strings, as wsSendText and wsSendJson do.
 *
 *   node dist/bench/ws-framing.js [--rounds 10] [--messages 5000]
 */
import * as wsModule from 'ws';
import { encodeFrame } from '../ts/generator/protocols/ws-frame-encoder.js';
import { OPCODE, WsFrameParser } from '../ts/generator/protocols/ws-frame-parser.js';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
// ws's framing classes; @types/ws does not declare them.
const { Receiver, Sender } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean; binaryType: string; maxPayload: number; allowSynchronousEvents: boolean }) => import('node:stream').Writable;
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
};

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 10);
const MESSAGES = arg('messages', 5000);
const READ_BYTES = 16 * 1024;

const cpuUs = (f: () => void): number => {
  const before = process.cpuUsage();
  f();
  const used = process.cpuUsage(before);
  return used.user + used.system;
};

function serverStream(size: number, binary: boolean): Buffer[] {
  const payload = Buffer.alloc(size, 'x');
  const frame = Buffer.concat(Sender.frame(payload, { fin: true, opcode: binary ? OPCODE.binary : OPCODE.text, mask: false, readOnly: false, rsv1: false }));
  const all = Buffer.concat(Array.from({ length: MESSAGES }, () => frame));
  const reads: Buffer[] = [];
  for (let at = 0; at < all.length; at += READ_BYTES) reads.push(Buffer.from(all.subarray(at, at + READ_BYTES)));
  return reads;
}

function decodeOurs(reads: Buffer[]): number {
  let n = 0;
  const parser = new WsFrameParser({ message: () => n++, ping: () => {}, closeFrame: () => {} });
  for (const read of reads) parser.push(read);
  return n;
}

function decodeWs(reads: Buffer[]): number {
  let n = 0;
  const receiver = new Receiver({ isServer: false, binaryType: 'nodebuffer', maxPayload: 0, allowSynchronousEvents: true });
  receiver.on('message', () => n++);
  for (const read of reads) receiver.write(read);
  return n;
}

function encodeOurs(text: string): number {
  let bytes = 0;
  for (let i = 0; i < MESSAGES; i++) bytes += encodeFrame(OPCODE.text, text).length;
  return bytes;
}

function encodeWs(text: string): number {
  let bytes = 0;
  for (let i = 0; i < MESSAGES; i++) {
    for (const part of Sender.frame(Buffer.from(text), { fin: true, opcode: OPCODE.text, mask: true, readOnly: false, rsv1: false })) bytes += part.length;
  }
  return bytes;
}

function compare(label: string, ours: () => number, theirs: () => number): void {
  const a = ours();
  const b = theirs();
  if (a !== b) throw new Error(`${label}: the two disagree (${a} vs ${b})`);
  let oursUs = Infinity;
  let theirsUs = Infinity;
  // Alternating which goes first, so neither always runs after the other's garbage.
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) oursUs = Math.min(oursUs, cpuUs(ours));
    theirsUs = Math.min(theirsUs, cpuUs(theirs));
    if (r % 2 === 1) oursUs = Math.min(oursUs, cpuUs(ours));
  }
  const per = (us: number): string => ((us / MESSAGES) * 1000).toFixed(0).padStart(6);
  console.log(`${label.padEnd(34)} stressgrid ${per(oursUs)} ns/msg   ws ${per(theirsUs)} ns/msg   ratio ws/stressgrid ${(theirsUs / oursUs).toFixed(2)}`);
}

console.log(`${MESSAGES} messages per round, best of ${ROUNDS} rounds, CPU time`);
for (const [size, binary] of [
  [32, false],
  [1024, false],
  [65536, true],
] as const) {
  const reads = serverStream(size, binary);
  compare(
    `decode ${binary ? 'binary' : 'text'} ${size} B`,
    () => decodeOurs(reads),
    () => decodeWs(reads),
  );
}
for (const size of [32, 1024, 65536]) {
  const text = 'y'.repeat(size);
  compare(
    `encode masked text ${size} B`,
    () => encodeOurs(text),
    () => encodeWs(text),
  );
}
