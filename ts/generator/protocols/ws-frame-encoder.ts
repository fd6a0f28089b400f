/**
 * Client WebSocket frames (RFC 6455 5.2): always final, always masked with a
 * fresh key (5.3: unpredictable, so taken from the cryptographic generator, in
 * pooled slabs to keep it off the per-frame path). Text is written straight into
 * the frame buffer and masked in place: one allocation and one pass per frame.
 */
import { randomFillSync } from 'node:crypto';

const MASK_POOL_BYTES = 16 * 1024;
let maskPool = Buffer.alloc(0);
let maskAt = 0;

function takeMask(frame: Buffer, at: number): void {
  if (maskAt + 4 > maskPool.length) {
    maskPool = randomFillSync(Buffer.allocUnsafe(MASK_POOL_BYTES));
    maskAt = 0;
  }
  frame[at] = maskPool[maskAt]!;
  frame[at + 1] = maskPool[maskAt + 1]!;
  frame[at + 2] = maskPool[maskAt + 2]!;
  frame[at + 3] = maskPool[maskAt + 3]!;
  maskAt += 4;
}

/** One masked frame carrying `payload` (a string is sent as its UTF-8 bytes). */
export function encodeFrame(opcode: number, payload: Uint8Array | string): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
  const head = length < 126 ? 6 : length < 65536 ? 8 : 14;
  const frame = Buffer.allocUnsafe(head + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  takeMask(frame, head - 4);
  if (typeof payload === 'string') {
    frame.write(payload, head, 'utf8');
    maskInPlace(frame, head);
  } else {
    maskInto(frame, head, payload);
  }
  return frame;
}

function maskInPlace(frame: Buffer, head: number): void {
  const m0 = frame[head - 4]!,
    m1 = frame[head - 3]!,
    m2 = frame[head - 2]!,
    m3 = frame[head - 1]!;
  const end = frame.length;
  let i = head;
  for (; i + 3 < end; i += 4) {
    frame[i]! ^= m0;
    frame[i + 1]! ^= m1;
    frame[i + 2]! ^= m2;
    frame[i + 3]! ^= m3;
  }
  for (let k = 0; i < end; i++, k++) frame[i]! ^= frame[head - 4 + k]!;
}

function maskInto(frame: Buffer, head: number, payload: Uint8Array): void {
  const m0 = frame[head - 4]!,
    m1 = frame[head - 3]!,
    m2 = frame[head - 2]!,
    m3 = frame[head - 1]!;
  const n = payload.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    frame[head + i] = payload[i]! ^ m0;
    frame[head + i + 1] = payload[i + 1]! ^ m1;
    frame[head + i + 2] = payload[i + 2]! ^ m2;
    frame[head + i + 3] = payload[i + 3]! ^ m3;
  }
  for (let k = 0; i < n; i++, k++) frame[head + i] = payload[i]! ^ frame[head - 4 + k]!;
}
