/**
 * Errors of TCP/UDP sockets as DeviceErrors. netio reports OS error numbers;
 * they are named through `os.constants.errno` and then counted under the same
 * codes as node:net's errors (error-codes.ts), so both engines agree.
 */
import { constants } from 'node:os';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { PEER_CLOSED } from '../../netio/native.js';
import { toDeviceError, type ErrorPhase } from './error-codes.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** Codes that say something about the script's call rather than the connection. */
const SOCKET_CODES: ReadonlyMap<string, [code: string, why: string]> = new Map([
  ['ENOTCONN', [DEVICE_ERROR.closed, 'the connection is closed']],
  ['EMSGSIZE', [DEVICE_ERROR.badArgument, 'send: the data is larger than one send (or one datagram) may carry']],
  ['ENOBUFS', [DEVICE_ERROR.badArgument, 'send: the connection already has as much unsent data queued as it may hold']],
]);

/** A DeviceError for a node:net / node:dgram error or an OS error name. */
export function socketError(err: unknown, phase: ErrorPhase): DeviceError {
  const name = (err as { code?: unknown } | null)?.code;
  const known = typeof name === 'string' ? SOCKET_CODES.get(name) : undefined;
  if (known !== undefined) return new DeviceError(known[0], known[1], { cause: err });
  return toDeviceError(err, phase);
}

/** A DeviceError for an error number netio reported (PEER_CLOSED: the peer ended the stream). */
export function errnoError(errno: number, phase: ErrorPhase, address: string): DeviceError {
  if (errno === PEER_CLOSED) return new DeviceError(DEVICE_ERROR.closed, `${address} closed the connection`);
  const name = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  const error = Object.assign(new Error(`${name} (${address})`), { code: name, errno });
  return socketError(error, phase);
}
