/**
 * HTTP/2 framing (RFC 9113 4 and 6) as a device's client needs it: the
 * constants, frames built as bytes, and a reader that cuts what the socket
 * delivers into whole frames. What the frames mean is http2-connection.ts's.
 */

export const FRAME = {
  data: 0x0,
  headers: 0x1,
  priority: 0x2,
  rstStream: 0x3,
  settings: 0x4,
  pushPromise: 0x5,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
  continuation: 0x9,
} as const;

export const FLAG = {
  endStream: 0x1,
  ack: 0x1,
  endHeaders: 0x4,
  padded: 0x8,
  priority: 0x20,
} as const;

export const SETTING = {
  headerTableSize: 0x1,
  enablePush: 0x2,
  maxConcurrentStreams: 0x3,
  initialWindowSize: 0x4,
  maxFrameSize: 0x5,
  maxHeaderListSize: 0x6,
  enableConnectProtocol: 0x8,
} as const;

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 7). */
export const H2_ERROR = {
  noError: 0x0,
  protocol: 0x1,
  internal: 0x2,
  flowControl: 0x3,
  frameSize: 0x6,
  refusedStream: 0x7,
  cancel: 0x8,
  compression: 0x9,
} as const;

/** The client's connection preface (RFC 9113 3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 9;
/** The frame size every peer must take, and ours: we never announce a larger one. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** Every window starts here (RFC 9113 6.9.2) until SETTINGS_INITIAL_WINDOW_SIZE changes a stream's. */
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 2 ** 31 - 1;

/** A frame that breaks RFC 9113: the connection ends with GOAWAY carrying `code`. */
export class Http2ProtocolError extends Error {
  constructor(
    message: string,
    readonly code: number = H2_ERROR.protocol,
  ) {
    super(message);
  }
}

/** A whole frame: its head and payload in one buffer. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]>): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FRAME.settings, 0, 0, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FRAME.windowUpdate, 0, streamId, payload);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return frame(FRAME.rstStream, 0, streamId, payload);
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  return frame(FRAME.goaway, 0, 0, payload);
}

/** What a reader hands on: one whole frame, its payload a view into the received bytes. */
export type FrameHandler = (type: number, flags: number, streamId: number, payload: Buffer) => void;

/**
 * Cuts received bytes into frames. Payloads are views, valid only during the
 * handler's call; a frame split over reads is assembled first.
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(
    private readonly onFrame: FrameHandler,
    private readonly maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.pending !== undefined) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    while (data.length - pos >= FRAME_HEADER_BYTES) {
      const length = (data[pos]! << 16) | (data[pos + 1]! << 8) | data[pos + 2]!;
      if (length > this.maxFrameSize) throw new Http2ProtocolError(`a frame of ${length} bytes, above the ${this.maxFrameSize} allowed`, H2_ERROR.frameSize);
      const end = pos + FRAME_HEADER_BYTES + length;
      if (end > data.length) break;
      const streamId = data.readUInt32BE(pos + 5) & 0x7fffffff;
      this.onFrame(data[pos + 3]!, data[pos + 4]!, streamId, data.subarray(pos + FRAME_HEADER_BYTES, end));
      pos = end;
    }
    if (pos < data.length) this.pending = Buffer.from(data.subarray(pos));
  }
}
