/**
 * The HTTP/1.1 opening handshake of a WebSocket client (RFC 6455 4.1): the
 * headers the upgrade request carries and the check of the server's 101.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Headers the handshake sets itself; a script's own are dropped so the upgrade stays well-formed. */
const HANDSHAKE_HEADERS: ReadonlySet<string> = new Set(['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']);

/** A fresh `Sec-WebSocket-Key`: 16 random bytes in base64. */
export const newWebSocketKey = (): string => randomBytes(16).toString('base64');

/** The script's headers plus those that make the request an upgrade to WebSocket version 13, without extensions. */
export function upgradeHeaders(headers: ReadonlyArray<[string, string]>, key: string): Array<[string, string]> {
  const list = headers.filter(([name]) => !HANDSHAKE_HEADERS.has(name.toLowerCase()));
  list.push(['upgrade', 'websocket'], ['connection', 'Upgrade'], ['sec-websocket-key', key], ['sec-websocket-version', '13']);
  return list;
}

export const expectedAccept = (key: string): string =>
  createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');

/** The problem with a 101 response to an upgrade sent with `key`, or undefined when it is a proper WebSocket handshake. */
export function handshakeProblem(headers: ReadonlyArray<[string, string]>, key: string): DeviceError | undefined {
  const value = (name: string): string | undefined => headers.find(([n]) => n === name)?.[1];
  if (value('upgrade')?.toLowerCase() !== 'websocket') return new DeviceError(DEVICE_ERROR.protocol, 'the 101 response does not upgrade to websocket');
  if (value('sec-websocket-accept') !== expectedAccept(key)) {
    return new DeviceError(DEVICE_ERROR.protocol, 'the 101 response carries a wrong Sec-WebSocket-Accept');
  }
  if (value('sec-websocket-extensions') !== undefined) {
    return new DeviceError(DEVICE_ERROR.protocol, 'the server accepted a WebSocket extension the client never offered');
  }
  return undefined;
}
