/**
 * A WebSocket upgrade the server refused, with the response it refused with: the
 * script sees its status, headers and body (which usually say why) on the error
 * (`err.status`, `err.headers`, `err.body`, as the original's `{status, headers, body}`).
 */
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { HttpResponse } from './device-connection.js';

export class WsUpgradeRefused extends DeviceError {
  constructor(
    path: string,
    readonly response: HttpResponse,
    expected: number,
  ) {
    super(DEVICE_ERROR.wsUpgradeRefused, `the server answered the WebSocket upgrade of ${path} with ${response.status}, not ${expected}`);
  }
}
