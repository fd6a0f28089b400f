/**
 * A Link over a WebSocket (the `ws` package), for the distributed mode: one frame
 * per protocol message (JSON text, or binary for telemetry: telemetry-frame.ts),
 * each checked before it is handed on.
 *
 * The link guards the process behind it from its peer. A frame that is not a valid
 * message or one over the size bound closes that connection with
 * a close reason that says why; so does a peer that stops reading (the send buffer
 * would grow without limit) or stops answering pings (a half-open connection after
 * a network failure would otherwise look alive for hours).
 */
import { WebSocket, type RawData } from 'ws';
import type { ParseResult } from './protocol-validation.js';
import type { Link } from './transport.js';

/** Largest message either side accepts; telemetry of a busy generator is well under 1 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Unsent bytes a link holds for a slow peer before it gives up on it. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** A ping every interval; a peer silent for two intervals is gone. */
export const DEFAULT_HEARTBEAT_MS = 10_000;
/** How long a closing handshake may take before the socket is simply dropped. */
const CLOSE_GRACE_MS = 5000;
/** RFC 6455: a close frame's reason is at most 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;

/** Close codes this link sends (RFC 6455 section 7.4.1). */
export const CLOSE_CODE = Object.freeze({
  normal: 1000,
  policyViolation: 1008,
  tooBig: 1009,
});

export interface WsLinkOptions<Out = unknown> {
  /** Frames larger than this close the link (default DEFAULT_MAX_MESSAGE_BYTES). Set `maxPayload` on the socket too, so ws never buffers more. */
  maxMessageBytes?: number;
  /** Unsent bytes beyond which the link closes (default DEFAULT_MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number;
  /** Ping interval in ms; 0 sends none (default DEFAULT_HEARTBEAT_MS). */
  heartbeatMs?: number;
  /** Told why, each time this side closes the link because of its peer. */
  onInvalid?(reason: string): void;
  /** A message as it goes on the wire: a string goes as a text frame, bytes as a binary one (default JSON text). */
  serialize?: (message: Out) => string | Buffer;
}

/** Reads one frame from the peer; `binary` tells a binary frame from a text one. */
export type FrameParser<In> = (data: Buffer, binary: boolean) => ParseResult<In>;

export interface WsLink<Out, In> extends Link<Out, In> {
  /** Resolves once the socket is closed, everything sent before close() flushed or given up on. */
  readonly ended: Promise<void>;
}

export function wsLink<Out, In>(socket: WebSocket, parse: FrameParser<In>, options: WsLinkOptions<Out> = {}): WsLink<Out, In> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const serialize = options.serialize ?? ((message: Out) => JSON.stringify(message));
  const messageHandlers: Array<(message: In) => void> = [];
  const closeHandlers: Array<(reason: string) => void> = [];
  let closedReason: string | undefined;
  let alive = true;
  let heartbeat: NodeJS.Timeout | undefined;
  let grace: NodeJS.Timeout | undefined;

  const ended = new Promise<void>((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve();
    else socket.once('close', () => resolve());
  });

  /** Marks the link closed once and tells its handlers. */
  const shut = (reason: string): void => {
    if (closedReason !== undefined) return;
    closedReason = reason;
    clearInterval(heartbeat);
    for (const handler of closeHandlers) handler(reason);
  };

  /** Closes because of the peer: says why, to the log and in the close frame. */
  const refuse = (code: number, reason: string, { drop = false } = {}): void => {
    if (closedReason !== undefined) return;
    options.onInvalid?.(reason);
    close(code, reason, drop);
  };

  const close = (code: number, reason: string, drop: boolean): void => {
    if (closedReason !== undefined) return;
    if (drop || socket.readyState === WebSocket.CONNECTING) {
      socket.terminate();
    } else if (socket.readyState === WebSocket.OPEN) {
      socket.close(code, closeFrameReason(reason));
      // A peer that never answers the close frame must not keep the socket.
      grace = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
      grace.unref();
    }
    shut(reason);
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (closedReason !== undefined) return;
    alive = true;
    const bytes = rawBytes(data);
    if (bytes.length > maxMessageBytes) return refuse(CLOSE_CODE.tooBig, `message of ${bytes.length} bytes is over the limit of ${maxMessageBytes}`);
    const parsed = parse(bytes, isBinary);
    if (!parsed.ok) return refuse(CLOSE_CODE.policyViolation, `invalid message: ${parsed.reason}`);
    for (const handler of messageHandlers) handler(parsed.message);
  });
  socket.on('pong', () => (alive = true));
  socket.on('ping', () => (alive = true));
  socket.on('error', (err: Error & { code?: string }) => {
    // ws reports a peer's protocol violations (oversized, bad UTF-8, bad framing) as
    // WS_ERR_* errors and closes the socket itself; anything else is the network.
    if (err.code?.startsWith('WS_ERR_')) refuse(CLOSE_CODE.policyViolation, describeWsError(err, maxMessageBytes));
    else shut(`connection error: ${err.message}`);
  });
  socket.on('close', (code: number, reason: Buffer) => {
    clearTimeout(grace);
    shut(peerCloseReason(code, reason));
  });

  if (heartbeatMs > 0) {
    heartbeat = setInterval(() => {
      if (!alive) return refuse(CLOSE_CODE.policyViolation, `no answer from the peer in ${(2 * heartbeatMs) / 1000} s`, { drop: true });
      alive = false;
      if (socket.readyState === WebSocket.OPEN) socket.ping();
    }, heartbeatMs);
    heartbeat.unref();
  }

  return {
    ended,
    send(message: Out): void {
      if (closedReason !== undefined || socket.readyState !== WebSocket.OPEN) return;
      const frame = serialize(message);
      if (socket.bufferedAmount + frame.length > maxBufferedBytes) {
        // The close frame would queue behind what the peer does not read, so the socket is dropped.
        return refuse(CLOSE_CODE.policyViolation, `the peer does not keep up: ${socket.bufferedAmount} bytes wait to be sent`, { drop: true });
      }
      socket.send(frame, { binary: typeof frame !== 'string' });
    },
    onMessage(handler: (message: In) => void): void {
      messageHandlers.push(handler);
    },
    onClose(handler: (reason: string) => void): void {
      if (closedReason !== undefined) handler(closedReason);
      else closeHandlers.push(handler);
    },
    close(reason = 'closed'): void {
      close(CLOSE_CODE.normal, reason, false);
    },
  };
}

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function describeWsError(err: Error & { code?: string }, maxMessageBytes: number): string {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return `message over the limit of ${maxMessageBytes} bytes`;
  if (err.code === 'WS_ERR_INVALID_UTF8') return 'text frame that is not UTF-8';
  return `broken WebSocket framing: ${err.message}`;
}

function peerCloseReason(code: number, reason: Buffer): string {
  const text = reason.toString('utf8');
  if (code === 1005 || code === 1006) return text || 'connection lost';
  return text ? `closed by the peer (${code}: ${text})` : `closed by the peer (${code})`;
}

/** Cuts a reason to what a close frame carries, never inside a UTF-8 sequence. */
export function closeFrameReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let cut = reason.slice(0, MAX_CLOSE_REASON_BYTES - 1);
  while (Buffer.byteLength(`${cut}…`) > MAX_CLOSE_REASON_BYTES) cut = cut.slice(0, -1);
  // A lone high surrogate at the end would be encoded as U+FFFD: drop it.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}
