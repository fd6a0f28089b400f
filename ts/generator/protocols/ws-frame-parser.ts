/**
 * An incremental parser of the WebSocket frames a server sends (RFC 6455 5.2),
 * fed the bytes of one socket. It reassembles fragmented messages and hands
 * control frames to its handler as they come (they may arrive between the
 * fragments of a message). No extension is ever negotiated, so a frame with an
 * RSV bit set, or one the server masked, breaks the protocol.
 */
import { isUtf8 } from 'node:buffer';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';

export const OPCODE = Object.freeze({ continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 });

/** Close codes the client sends (RFC 6455 7.4.1). */
export const CLOSE_CODE = Object.freeze({ normal: 1000, goingAway: 1001, protocolError: 1002, noStatus: 1005, tooBig: 1009 });

export interface FrameHandler {
  /** A whole data message; `data` is the handler's own (never a view of a socket chunk). */
  message(binary: boolean, data: Buffer): void;
  ping(payload: Buffer): void;
  /** The server's close frame; `code` is 1005 when it gave none. */
  closeFrame(code: number, reason: string): void;
}

/** Largest message reassembled; a bigger one is a protocol error (close 1009). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const MAX_CONTROL_PAYLOAD = 125;

const protocolError = (message: string): DeviceError => new DeviceError(DEVICE_ERROR.protocol, message);

/** A message past the size cap: still a protocol error, but closed with 1009 rather than 1002. */
export class MessageTooBigError extends DeviceError {
  constructor(limit: number) {
    super(DEVICE_ERROR.protocol, `WebSocket message larger than ${limit} bytes`);
  }
}

export class WsFrameParser {
  /** Header bytes of a frame split across chunks. */
  private partialHead: Buffer | undefined;
  private inPayload = false;
  private fin = false;
  private opcode = 0;
  private remaining = 0;
  private frameParts: Buffer[] = [];
  private frameLength = 0;
  /** The data message being reassembled from fragments, if any. */
  private messageBinary: boolean | undefined;
  private messageParts: Buffer[] = [];
  private messageLength = 0;

  constructor(
    private readonly handler: FrameHandler,
    private readonly maxMessageBytes = MAX_MESSAGE_BYTES,
  ) {}

  /** Consumes `chunk`; throws a `protocol` DeviceError on a malformed frame. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.inPayload) {
        at = this.pushHead(chunk, at);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      this.frameParts.push(chunk.subarray(at, at + take));
      this.frameLength += take;
      at += take;
      this.remaining -= take;
      if (this.remaining === 0) {
        this.inPayload = false;
        this.frameDone(this.takeFrame());
      }
    }
  }

  /**
   * Reads one frame header starting at `at`; returns how far into `chunk` it got.
   * A frame whose payload is all in `chunk` (most small ones) is handled at once,
   * with one copy and no intermediate parts.
   */
  private pushHead(chunk: Buffer, at: number): number {
    let buf = chunk;
    let start = at;
    let carried = 0;
    if (this.partialHead !== undefined) {
      carried = this.partialHead.length;
      buf = Buffer.concat([this.partialHead, chunk.subarray(at)]);
      start = 0;
    }
    const available = buf.length - start;
    const size = available < 2 ? 0 : headLength(buf[start + 1]!);
    if (size === 0 || available < size) {
      this.partialHead = Buffer.from(buf.subarray(start));
      return chunk.length;
    }
    this.partialHead = undefined;
    const b0 = buf[start]!;
    const b1 = buf[start + 1]!;
    if ((b0 & 0x70) !== 0) throw protocolError('WebSocket frame with an RSV bit set, but no extension was negotiated');
    if ((b1 & 0x80) !== 0) throw protocolError('the server sent a masked WebSocket frame');
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let length = b1 & 0x7f;
    if (length === 126) length = buf.readUInt16BE(start + 2);
    else if (length === 127) {
      const high = buf.readUInt32BE(start + 2);
      if (high > 0x1fffff) throw protocolError('WebSocket frame length beyond 2^53');
      length = high * 2 ** 32 + buf.readUInt32BE(start + 6);
    }
    this.checkFrame(fin, opcode, length);
    this.fin = fin;
    this.opcode = opcode;
    const payloadAt = at + size - carried;
    if (chunk.length - payloadAt >= length) {
      const payload = Buffer.allocUnsafe(length);
      chunk.copy(payload, 0, payloadAt, payloadAt + length);
      this.frameDone(payload);
      return payloadAt + length;
    }
    this.remaining = length;
    this.inPayload = true;
    return payloadAt;
  }

  private checkFrame(fin: boolean, opcode: number, length: number): void {
    if (opcode >= OPCODE.close) {
      if (opcode > OPCODE.pong) throw protocolError(`unknown WebSocket control opcode ${opcode}`);
      if (!fin || length > MAX_CONTROL_PAYLOAD) throw protocolError('fragmented or oversized WebSocket control frame');
      return;
    }
    if (opcode > OPCODE.binary) throw protocolError(`unknown WebSocket data opcode ${opcode}`);
    if (opcode === OPCODE.continuation) {
      if (this.messageBinary === undefined) throw protocolError('WebSocket continuation frame without a message to continue');
    } else if (this.messageBinary !== undefined) {
      throw protocolError('new WebSocket message before the fragmented one ended');
    }
    if (this.messageLength + length > this.maxMessageBytes) {
      throw new MessageTooBigError(this.maxMessageBytes);
    }
  }

  private frameDone(payload: Buffer): void {
    switch (this.opcode) {
      case OPCODE.close: {
        // RFC 6455 5.5.1 and 7.4: a body is a code a peer may send, then a UTF-8 reason.
        if (payload.length === 1) throw protocolError('WebSocket close frame with a one-byte body');
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : CLOSE_CODE.noStatus;
        if (payload.length >= 2 && !isSendableCloseCode(code)) throw protocolError(`WebSocket close frame with code ${code}, which no peer may send`);
        if (!isUtf8(payload.subarray(Math.min(2, payload.length)))) throw protocolError('WebSocket close reason that is not valid UTF-8');
        this.handler.closeFrame(code, payload.toString('utf8', Math.min(2, payload.length)));
        return;
      }
      case OPCODE.ping:
        this.handler.ping(payload);
        return;
      case OPCODE.pong:
        return;
      case OPCODE.continuation:
        break;
      default:
        if (this.fin) {
          this.deliver(this.opcode === OPCODE.binary, payload);
          return;
        }
        this.messageBinary = this.opcode === OPCODE.binary;
    }
    if (payload.length > 0) {
      this.messageParts.push(payload);
      this.messageLength += payload.length;
    }
    if (!this.fin) return;
    const binary = this.messageBinary!;
    const data = this.messageParts.length === 1 ? this.messageParts[0]! : Buffer.concat(this.messageParts, this.messageLength);
    this.messageBinary = undefined;
    this.messageParts = [];
    this.messageLength = 0;
    this.deliver(binary, data);
  }

  /** A text message must be UTF-8 (RFC 6455 8.1): one that is not fails the connection. */
  private deliver(binary: boolean, data: Buffer): void {
    if (!binary && !isUtf8(data)) throw protocolError('WebSocket text message that is not valid UTF-8');
    this.handler.message(binary, data);
  }

  /** The current frame's payload as a buffer of its own, so a small frame does not pin a whole socket chunk. */
  private takeFrame(): Buffer {
    const parts = this.frameParts;
    const length = this.frameLength;
    this.frameParts = [];
    this.frameLength = 0;
    if (parts.length === 1 && parts[0]!.buffer.byteLength === length) return parts[0]!;
    return Buffer.concat(parts, length);
  }
}

/** Close codes a peer may put in a close frame (RFC 6455 7.4.1-7.4.2): 1004-1006 and 1015 are reserved. */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Header size a server frame needs, from its second byte (servers never mask). */
function headLength(b1: number): number {
  const length = b1 & 0x7f;
  return length < 126 ? 2 : length === 126 ? 4 : 10;
}
