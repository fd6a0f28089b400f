/**
 * Host half of the script's TCP/UDP `send` and `recv` (guest half in
 * guest/prelude.ts). Both are mailbox operations; received bytes cross into the
 * guest through the envelope's binary side channel, as response bodies do.
 */
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { SocketConnection } from '../protocols/device-connection.js';
import { BODY, OPERATION, type SentBody } from './mailbox.js';
import type { BinaryParts } from './response-body.js';

/** The operation kinds performed here: send, receive. */
export const SOCKET_OPERATIONS: ReadonlySet<string> = new Set([OPERATION.socketSend, OPERATION.socketRecv]);

/** Node's longest timer; a longer receive timeout waits this long. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

type SendSpec = SentBody;

/** Performs one operation; resolves with the fragment the guest decodes (`settle`), rejects with a DeviceError. */
export function performSocket(socket: SocketConnection | undefined, kind: string, payload: unknown, binary: Uint8Array | undefined, out: BinaryParts): Promise<string> {
  if (socket === undefined) {
    return Promise.reject(new DeviceError(DEVICE_ERROR.wrongProtocol, 'send and recv need a tcp or udp target'));
  }
  if (kind === OPERATION.socketSend) {
    const data = payload as SendSpec;
    const bytes = data[0] === BODY.text ? Buffer.from(data[1], 'utf8') : (binary ?? new Uint8Array(0)).subarray(data[1], data[1] + data[2]);
    return socket.send(bytes).then(() => '0');
  }
  const timeoutMs = Math.min(Math.max(0, Number(payload) || 0), MAX_TIMEOUT_MS);
  return socket.recv(timeoutMs).then((bytes) => `[${out.append(bytes)},${bytes.byteLength}]`);
}
