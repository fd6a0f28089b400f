/**
 * What a device lends its script: one member per protocol family. The sandbox
 * calls only the members present; a script calling a function whose member is
 * absent (say `get` on a TCP device) fails with code `wrong_protocol`.
 */
import type { HttpRequest, HttpResponse, SocketConnection, WebSocketConnection } from '../protocols/device-connection.js';

export interface DeviceIO {
  /** One request at a time on the device's connection; rejects with a DeviceError. */
  http?: (req: HttpRequest) => Promise<HttpResponse>;
  /** WebSocket on the same connection, once the script upgrades it (HTTP devices only). */
  ws?: WebSocketConnection;
  /** The socket of a TCP or UDP device: `send` and `recv`. */
  socket?: SocketConnection;
}
