/**
 * One HTTP/2 connection (RFC 9113) over a device's socket: the preface and
 * SETTINGS, frames in and out, HPACK, flow control both ways, PING, GOAWAY and
 * RST_STREAM. A device has one stream open at a time (a request, or the
 * extended CONNECT its WebSocket runs on), so there is no priority and no
 * stream limit to honour; what streams mean is http2-connection.ts's.
 *
 * node:http2 did this before, at 70–90 µs of CPU per request (a Duplex, an
 * AsyncResource and header objects per stream, and the garbage of all three);
 * a request here is one HEADERS frame written and the frames read parsed in
 * place, with no object per stream beyond its record.
 */
import type { Socket } from 'node:net';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { toDeviceError } from './error-codes.js';
import { encodeHeaderBlock, HpackDecoder, HpackError } from './hpack.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  FLAG,
  frame,
  FRAME,
  FrameReader,
  goawayFrame,
  H2_ERROR,
  Http2ProtocolError,
  MAX_WINDOW,
  PREFACE,
  rstStreamFrame,
  SETTING,
  settingsFrame,
  windowUpdateFrame,
} from './http2-frames.js';

/** What a stream's owner hears of it. */
export interface StreamHandler {
  /** A whole header block: the response's headers, an informational response, or trailers. */
  headers(fields: Array<[string, string]>, endStream: boolean): void;
  data(chunk: Buffer, endStream: boolean): void;
  /** The server reset the stream, or refused it in a GOAWAY; `code` is RFC 9113's. */
  reset(code: number): void;
}

/** The window we give each stream and the connection: 1 MiB, so a large body needs few WINDOW_UPDATEs. */
const LOCAL_WINDOW = 1 << 20;
/** A window is topped up once half of it is used. */
const REFILL_AT = LOCAL_WINDOW / 2;
const LAST_STREAM_ID = 2 ** 31 - 1;

interface Stream {
  readonly handler: StreamHandler;
  /** What we may still send on it. */
  sendWindow: number;
  /** Received DATA not yet given back with a WINDOW_UPDATE. */
  unacknowledged: number;
  /** DATA waiting for window: each chunk with its END_STREAM flag and callback. */
  readonly queued: Array<{ data: Buffer; end: boolean; done?: (err?: Error | null) => void }>;
  /** We sent END_STREAM. */
  localEnded: boolean;
}

/** A header block split over HEADERS and CONTINUATION frames. */
interface PartialBlock {
  streamId: number;
  endStream: boolean;
  parts: Buffer[];
}

export class Http2Session {
  private readonly streams = new Map<number, Stream>();
  private readonly reader = new FrameReader((type, flags, streamId, payload) => this.frame(type, flags, streamId, payload));
  private readonly decoder = new HpackDecoder();
  private nextStreamId = 1;
  private sendWindow = DEFAULT_WINDOW;
  private unacknowledged = 0;
  private initialSendWindow = DEFAULT_WINDOW;
  private maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private partial: PartialBlock | undefined;
  private gone = false;
  /** The server sent GOAWAY: it finishes what it has, and takes no new stream. */
  draining = false;
  /** The server announced SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441). */
  connectProtocol = false;
  /** Resolves at the server's first SETTINGS, or when the connection ends before them. */
  readonly settled: Promise<void>;
  private settle!: () => void;

  /** `onGone` hears once why the connection ended: the socket's error or close, or a protocol error of the server's. */
  constructor(
    private readonly socket: Socket,
    private readonly onGone: (err: DeviceError) => void,
  ) {
    this.settled = new Promise<void>((resolve) => (this.settle = resolve));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.protocolFailure(err);
      }
    });
    socket.on('error', (err: Error) => this.end(toDeviceError(err)));
    socket.on('close', () => this.end(new DeviceError(DEVICE_ERROR.closed, 'HTTP/2 session closed before the response was complete')));
    const settings = settingsFrame([
      [SETTING.enablePush, 0],
      [SETTING.initialWindowSize, LOCAL_WINDOW],
    ]);
    socket.write(Buffer.concat([PREFACE, settings, windowUpdateFrame(0, LOCAL_WINDOW - DEFAULT_WINDOW)]));
  }

  get destroyed(): boolean {
    return this.gone;
  }

  /** Whether a new stream may open here (not draining, not ended, stream ids left). */
  get open(): boolean {
    return !this.gone && !this.draining && this.nextStreamId < LAST_STREAM_ID;
  }

  /**
   * Opens a stream with a request's headers (a flat list, pseudo-headers first)
   * and, when given, its body; returns its id.
   */
  request(headers: readonly string[], body: Uint8Array | undefined, endStream: boolean, handler: StreamHandler): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream: Stream = { handler, sendWindow: this.initialSendWindow, unacknowledged: 0, queued: [], localEnded: false };
    this.streams.set(id, stream);
    const block = encodeHeaderBlock(headers);
    const bodyless = endStream && (body === undefined || body.length === 0);
    if (block.length <= this.maxFrameSize) {
      this.socket.write(frame(FRAME.headers, FLAG.endHeaders | (bodyless ? FLAG.endStream : 0), id, block));
    } else {
      const frames = [frame(FRAME.headers, bodyless ? FLAG.endStream : 0, id, block.subarray(0, this.maxFrameSize))];
      for (let at = this.maxFrameSize; at < block.length; at += this.maxFrameSize) {
        const last = at + this.maxFrameSize >= block.length;
        frames.push(frame(FRAME.continuation, last ? FLAG.endHeaders : 0, id, block.subarray(at, at + this.maxFrameSize)));
      }
      this.socket.write(Buffer.concat(frames));
    }
    if (bodyless) stream.localEnded = true;
    else if (body !== undefined && body.length > 0) this.write(id, Buffer.from(body.buffer, body.byteOffset, body.length), endStream);
    else if (endStream) this.write(id, Buffer.alloc(0), true);
    return id;
  }

  /** Sends DATA on a stream as its windows allow; `done` runs once the last byte is handed to the socket. */
  write(id: number, data: Buffer, endStream: boolean, done?: (err?: Error | null) => void): void {
    const stream = this.streams.get(id);
    if (stream === undefined || stream.localEnded || this.gone) {
      done?.(new DeviceError(DEVICE_ERROR.closed, 'the HTTP/2 stream is closed'));
      return;
    }
    if (endStream) stream.localEnded = true;
    stream.queued.push({ data, end: endStream, ...(done ? { done } : {}) });
    this.flush(id, stream);
  }

  /** Resets a stream of ours (CANCEL when we give up on it) and forgets it. */
  reset(id: number, code: number = H2_ERROR.cancel): void {
    if (!this.streams.delete(id) || this.gone) return;
    this.socket.write(rstStreamFrame(id, code));
  }

  /** Whether the stream is still open on our side of the session. */
  has(id: number): boolean {
    return this.streams.has(id);
  }

  destroy(): void {
    this.gone = true;
    this.streams.clear();
    this.socket.destroy();
    this.settle();
  }

  private end(err: DeviceError): void {
    if (this.gone) return;
    this.destroy();
    this.onGone(err);
  }

  private protocolFailure(err: unknown): void {
    if (this.gone) return;
    const code = err instanceof Http2ProtocolError ? err.code : err instanceof HpackError ? H2_ERROR.compression : H2_ERROR.internal;
    const message = err instanceof Error ? err.message : String(err);
    this.socket.write(goawayFrame(0, code));
    this.end(new DeviceError(DEVICE_ERROR.protocol, `HTTP/2: ${message}`));
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.partial !== undefined && type !== FRAME.continuation) throw new Http2ProtocolError('a frame other than CONTINUATION inside a header block');
    switch (type) {
      case FRAME.data:
        return this.dataFrame(flags, streamId, payload);
      case FRAME.headers:
        return this.headersFrame(flags, streamId, payload);
      case FRAME.continuation:
        return this.continuationFrame(flags, streamId, payload);
      case FRAME.rstStream:
        return this.rstStreamFrame(streamId, payload);
      case FRAME.settings:
        return this.settingsFrame(flags, streamId, payload);
      case FRAME.ping:
        if (payload.length !== 8) throw new Http2ProtocolError('a PING frame not of 8 bytes', H2_ERROR.frameSize);
        if ((flags & FLAG.ack) === 0) this.socket.write(frame(FRAME.ping, FLAG.ack, 0, payload));
        return;
      case FRAME.goaway:
        return this.goawayFrame(payload);
      case FRAME.windowUpdate:
        return this.windowUpdateFrame(streamId, payload);
      case FRAME.pushPromise:
        throw new Http2ProtocolError('PUSH_PROMISE, though SETTINGS_ENABLE_PUSH is 0');
      default:
      // PRIORITY and unknown types are ignored (RFC 9113 5.5).
    }
  }

  private dataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new Http2ProtocolError('DATA on stream 0');
    // The whole frame, padding included, counts against the windows (RFC 9113 6.9.1).
    this.unacknowledged += payload.length;
    if (this.unacknowledged >= REFILL_AT) {
      this.socket.write(windowUpdateFrame(0, this.unacknowledged));
      this.unacknowledged = 0;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    const data = unpadded(flags, payload);
    const endStream = (flags & FLAG.endStream) !== 0;
    if (endStream) this.remoteEnded(streamId, stream);
    else {
      stream.unacknowledged += payload.length;
      if (stream.unacknowledged >= REFILL_AT) {
        this.socket.write(windowUpdateFrame(streamId, stream.unacknowledged));
        stream.unacknowledged = 0;
      }
    }
    stream.handler.data(data, endStream);
  }

  private headersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new Http2ProtocolError('HEADERS on stream 0');
    let block = unpadded(flags, payload);
    if (flags & FLAG.priority) {
      if (block.length < 5) throw new Http2ProtocolError('a HEADERS frame too short for its priority', H2_ERROR.frameSize);
      block = block.subarray(5);
    }
    const endStream = (flags & FLAG.endStream) !== 0;
    if (flags & FLAG.endHeaders) this.headerBlock(streamId, endStream, block);
    else this.partial = { streamId, endStream, parts: [Buffer.from(block)] };
  }

  private continuationFrame(flags: number, streamId: number, payload: Buffer): void {
    const partial = this.partial;
    if (partial === undefined || partial.streamId !== streamId) throw new Http2ProtocolError('CONTINUATION outside a header block of its stream');
    partial.parts.push(Buffer.from(payload));
    if (flags & FLAG.endHeaders) {
      this.partial = undefined;
      this.headerBlock(streamId, partial.endStream, Buffer.concat(partial.parts));
    }
  }

  /** Every block is decoded, a forgotten stream's too: the dynamic table must stay in step with the server's. */
  private headerBlock(streamId: number, endStream: boolean, block: Buffer): void {
    const fields = this.decoder.decode(block);
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (endStream) this.remoteEnded(streamId, stream);
    stream.handler.headers(fields, endStream);
  }

  private rstStreamFrame(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new Http2ProtocolError('RST_STREAM on stream 0');
    if (payload.length !== 4) throw new Http2ProtocolError('an RST_STREAM frame not of 4 bytes', H2_ERROR.frameSize);
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.streams.delete(streamId);
    failQueued(stream);
    stream.handler.reset(payload.readUInt32BE(0));
  }

  private settingsFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new Http2ProtocolError('SETTINGS on a stream');
    if (flags & FLAG.ack) return;
    if (payload.length % 6 !== 0) throw new Http2ProtocolError('a SETTINGS frame not a multiple of 6 bytes', H2_ERROR.frameSize);
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === SETTING.initialWindowSize) {
        if (value > MAX_WINDOW) throw new Http2ProtocolError(`SETTINGS_INITIAL_WINDOW_SIZE ${value}`, H2_ERROR.flowControl);
        const delta = value - this.initialSendWindow;
        this.initialSendWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      } else if (id === SETTING.maxFrameSize) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 2 ** 24 - 1) throw new Http2ProtocolError(`SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.maxFrameSize = value;
      } else if (id === SETTING.enableConnectProtocol) {
        this.connectProtocol = value === 1;
      }
      // The header table size binds only an encoder that indexes; ours never does.
    }
    this.socket.write(frame(FRAME.settings, FLAG.ack, 0));
    this.settle();
    for (const [id, stream] of this.streams) this.flush(id, stream);
  }

  private goawayFrame(payload: Buffer): void {
    if (payload.length < 8) throw new Http2ProtocolError('a GOAWAY frame shorter than 8 bytes', H2_ERROR.frameSize);
    const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    this.draining = true;
    // Streams above the last one the server processed were never seen by it: refused, so they may go again.
    for (const [id, stream] of [...this.streams]) {
      if (id <= lastStreamId) continue;
      this.streams.delete(id);
      failQueued(stream);
      stream.handler.reset(H2_ERROR.refusedStream);
    }
  }

  private windowUpdateFrame(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new Http2ProtocolError('a WINDOW_UPDATE frame not of 4 bytes', H2_ERROR.frameSize);
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new Http2ProtocolError('a WINDOW_UPDATE of 0');
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) throw new Http2ProtocolError('the connection window beyond 2^31-1', H2_ERROR.flowControl);
      for (const [id, stream] of this.streams) this.flush(id, stream);
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    stream.sendWindow += increment;
    this.flush(streamId, stream);
  }

  /** Writes what a stream has queued as far as both windows and the frame size allow. */
  private flush(id: number, stream: Stream): void {
    const frames: Buffer[] = [];
    const callbacks: Array<(err?: Error | null) => void> = [];
    while (stream.queued.length > 0) {
      const next = stream.queued[0]!;
      const room = Math.min(this.sendWindow, stream.sendWindow, this.maxFrameSize);
      if (next.data.length > 0 && room <= 0) break;
      const take = Math.min(room, next.data.length);
      const last = take === next.data.length;
      frames.push(frame(FRAME.data, last && next.end ? FLAG.endStream : 0, id, next.data.subarray(0, take)));
      this.sendWindow -= take;
      stream.sendWindow -= take;
      if (!last) {
        next.data = next.data.subarray(take);
        continue;
      }
      stream.queued.shift();
      if (next.done) callbacks.push(next.done);
    }
    if (frames.length === 0) return;
    const done = callbacks.length === 0 ? undefined : (err?: Error | null) => callbacks.forEach((c) => c(err));
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames), done);
  }

  private remoteEnded(id: number, stream: Stream): void {
    // A stream both sides have ended is closed; one we still send on (a WebSocket's) stays until we end it too.
    if (stream.localEnded) this.streams.delete(id);
  }
}

/** A DATA or HEADERS payload without its padding (RFC 9113 6.1). */
function unpadded(flags: number, payload: Buffer): Buffer {
  if ((flags & FLAG.padded) === 0) return payload;
  if (payload.length < 1) throw new Http2ProtocolError('a padded frame without its pad length', H2_ERROR.frameSize);
  const pad = payload[0]!;
  if (pad >= payload.length) throw new Http2ProtocolError('padding longer than its frame');
  return payload.subarray(1, payload.length - pad);
}

function failQueued(stream: Stream): void {
  const err = new DeviceError(DEVICE_ERROR.closed, 'the HTTP/2 stream was reset');
  for (const q of stream.queued.splice(0)) q.done?.(err);
}
