/**
 * A WebSocket upgrade the server refused, with the response it refused with. The
 * sandbox hands that response to the script as wsUpgrade's answer (its status,
 * headers and body, which usually say why), as the original's ws_upgrade returns it.
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
