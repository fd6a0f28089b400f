/**
 * Checks what a script hands to `get`/`post`/... before any byte is written, so a
 * CR/LF in a header or path becomes a `bad_argument` error instead of a
 * smuggled second request or a malformed frame.
 */
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { HttpRequest } from './device-connection.js';
import { HTTP_FIELD_VALUE, HTTP_TOKEN } from './http-grammar.js';

/** Origin-form or asterisk-form request target: no spaces or control characters. */
const REQUEST_TARGET = /^(\/[\x21-\x7e\x80-\xff]*|\*)$/;

/** The problem with sending `req` now, or undefined when it may be sent. */
export function requestProblem(req: HttpRequest, inFlight: boolean): DeviceError | undefined {
  if (inFlight) return new DeviceError(DEVICE_ERROR.badArgument, 'a request is already in flight on this connection');
  if (!REQUEST_TARGET.test(req.path)) {
    return new DeviceError(DEVICE_ERROR.badArgument, `invalid request path ${JSON.stringify(req.path)}: it must start with "/" and hold no spaces or control characters`);
  }
  for (const [name, value] of req.headers) {
    if (!HTTP_TOKEN.test(name)) {
      return new DeviceError(DEVICE_ERROR.badArgument, `invalid header name ${JSON.stringify(name)}`);
    }
    if (!HTTP_FIELD_VALUE.test(value)) {
      return new DeviceError(DEVICE_ERROR.badArgument, `invalid value for header ${name}: CR, LF, NUL and characters above U+00FF are not allowed`);
    }
  }
  return undefined;
}
