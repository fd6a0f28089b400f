/**
 * The WebSocket side of an HTTP/2 device. WebSocket over HTTP/2 (RFC 8441,
 * extended CONNECT) is not implemented, so `wsUpgrade` rejects with
 * `ws_unsupported` and says to use an HTTP/1.x protocol; one shared object
 * serves every such device.
 */
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { WebSocketConnection } from './device-connection.js';

const notUpgraded = (): DeviceError => new DeviceError(DEVICE_ERROR.wsNotUpgraded, 'this HTTP/2 connection was never upgraded to WebSocket');

export const WEBSOCKET_UNSUPPORTED: WebSocketConnection = Object.freeze({
  wsUpgrade: () =>
    Promise.reject(new DeviceError(DEVICE_ERROR.wsUnsupported, 'WebSocket needs an HTTP/1.x target (protocol http, https, http10 or http10s); HTTP/2 targets cannot upgrade')),
  wsSend: () => Promise.reject(notUpgraded()),
  wsReceive: () => Promise.reject(notUpgraded()),
  wsFetch: () => {
    throw notUpgraded();
  },
});
