/**
 * A device's WebSocket after the upgrade (RFC 6455), on the socket its HTTP/1.x
 * connection opened or the HTTP/2 stream of an extended CONNECT (RFC 8441): frames out (masked), frames in, pings answered, the close
 * handshake. Messages wait in a bounded buffer (1024, as in the original
 * Stressgrid) for the script's receive or fetch; one arriving to a full buffer is
 * dropped and counted (`ws_receive_overflow_count`), never silently lost.
 *
 * The owning connection feeds it the socket's events; it exists only once a
 * device has upgraded, so an HTTP device pays nothing for it.
 */
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { KEY } from '../../shared/metrics.js';
import type { MetricSink } from '../metric-sink.js';
import type { WsMessage } from './device-connection.js';
import { toDeviceError } from './error-codes.js';
import { encodeFrame } from './ws-frame-encoder.js';
import { CLOSE_CODE, MessageTooBigError, OPCODE, WsFrameParser, type FrameHandler } from './ws-frame-parser.js';

/** Messages a device holds unread before it drops new ones. */
export const RECEIVE_BUFFER_MESSAGES = 1024;
/** How long a closing WebSocket waits for the server to end the TCP connection before dropping it. */
const CLOSE_LINGER_MS = 1000;

interface Waiter {
  resolve: (message: WsMessage) => void;
  reject: (err: DeviceError) => void;
  timer: NodeJS.Timeout;
}

const closedError = (why: string): DeviceError => new DeviceError(DEVICE_ERROR.closed, why);

const notUpgraded = (): DeviceError => new DeviceError(DEVICE_ERROR.wsNotUpgraded, 'call wsUpgrade (and let it succeed) before the other ws functions');

/** The session of a connection for a ws* call; before a successful upgrade, `ws_not_upgraded`. */
export function upgradedSession(ws: WebSocketSession | undefined): WebSocketSession {
  if (ws === undefined) throw notUpgraded();
  return ws;
}

/** What the session writes frames to: the device's socket (HTTP/1.1) or its extended-CONNECT stream (HTTP/2). */
export interface WsTransport {
  write(chunk: Uint8Array, callback?: (err?: Error | null) => void): unknown;
  end(): unknown;
  destroy(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
}

export class WebSocketSession implements FrameHandler {
  private readonly parser = new WsFrameParser(this);
  private readonly buffered: WsMessage[] = [];
  private readonly waiters: Waiter[] = [];
  /** Why nothing more will arrive (server close, lost connection, broken protocol). */
  private ended: DeviceError | undefined;
  /** Our close frame is out: nothing more may be sent. */
  private closing = false;

  constructor(
    private readonly socket: WsTransport,
    private readonly sink: MetricSink,
    private readonly capacity = RECEIVE_BUFFER_MESSAGES,
  ) {}

  send(binary: boolean, payload: Uint8Array | string): Promise<void> {
    if (this.closing || this.ended !== undefined) return Promise.reject(this.ended ?? closedError('the WebSocket is closing'));
    const frame = encodeFrame(binary ? OPCODE.binary : OPCODE.text, payload);
    this.sink.count(KEY.wsSentFrames);
    this.sink.count(KEY.wsSentBytes, payloadLength(frame));
    // The callback comes once the kernel took the frame: a script sending faster
    // than the network waits here instead of growing the socket's buffer.
    return new Promise((resolve, reject) => {
      this.socket.write(frame, (err) => (err ? reject(toDeviceError(err)) : resolve()));
    });
  }

  receive(timeoutMs: number): Promise<WsMessage> {
    const next = this.buffered.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.ended !== undefined) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new DeviceError(DEVICE_ERROR.timeout, `no WebSocket message within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  fetch(): WsMessage | undefined {
    return this.buffered.shift();
  }

  /** Bytes from the socket. */
  data(chunk: Buffer): void {
    if (this.ended !== undefined) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      const error = toDeviceError(err);
      this.sendClose(err instanceof MessageTooBigError ? CLOSE_CODE.tooBig : CLOSE_CODE.protocolError);
      this.socket.end();
      this.end(error);
    }
  }

  /** The server ended or lost the TCP connection. */
  socketGone(err: DeviceError): void {
    this.end(err.code === DEVICE_ERROR.closed ? closedError('the server closed the WebSocket connection') : err);
  }

  /** The device is done: close handshake if still open, and the socket goes soon after. */
  close(): void {
    this.end(closedError('WebSocket closed by the device'));
    const socket = this.socket;
    if (socket.destroyed) return;
    this.sendClose(CLOSE_CODE.goingAway);
    socket.end();
    // Reading on lets the server's close frame and FIN arrive, so the device does not reset the connection.
    socket.resume();
    setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
  }

  /** @internal FrameHandler */
  message(binary: boolean, data: Buffer): void {
    this.sink.count(KEY.wsReceivedFrames);
    this.sink.count(KEY.wsReceivedBytes, data.length);
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      waiter.resolve({ binary, data });
    } else if (this.buffered.length >= this.capacity) {
      this.sink.count(KEY.wsReceiveOverflow);
    } else {
      this.buffered.push({ binary, data });
    }
  }

  /** @internal FrameHandler */
  ping(payload: Buffer): void {
    if (!this.closing) this.socket.write(encodeFrame(OPCODE.pong, payload));
  }

  /** @internal FrameHandler */
  closeFrame(code: number, reason: string): void {
    // Echo the server's code (RFC 6455 5.5.1), then the server ends the TCP connection.
    this.sendClose(code === CLOSE_CODE.noStatus ? undefined : code);
    this.end(closedError(`the server closed the WebSocket (${code}${reason === '' ? '' : ` ${reason}`})`));
  }

  private sendClose(code: number | undefined): void {
    if (this.closing || this.socket.destroyed) return;
    this.closing = true;
    const payload = code === undefined ? Buffer.alloc(0) : Buffer.from([code >> 8, code & 0xff]);
    this.socket.write(encodeFrame(OPCODE.close, payload));
  }

  /** Nothing more will arrive: pending receives fail with `err`; buffered messages stay readable. */
  private end(err: DeviceError): void {
    if (this.ended !== undefined) return;
    this.ended = err;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }
}

/** Payload bytes of a frame encodeFrame made (its header is 6, 8 or 14 bytes). */
function payloadLength(frame: Buffer): number {
  const length = frame[1]! & 0x7f;
  return frame.length - (length < 126 ? 6 : length === 126 ? 8 : 14);
}
