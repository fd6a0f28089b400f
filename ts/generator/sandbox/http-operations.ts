/**
 * Host half of the script's HTTP functions (`get`, `post`, ...; guest half in
 * guest/prelude.ts). A request is a mailbox operation: a plain one (no headers,
 * no body) crosses as `METHOD,path` text, any other as JSON with its body as
 * text or as a slice of the envelope's binary side channel. The response comes
 * back as the fragment the guest decodes, its body inlined or in the side channel
 * (response-body.ts).
 */
import type { HttpRequest, HttpResponse } from '../protocols/device-connection.js';
import { isHttpMethod } from '../protocols/http-grammar.js';
import type { DeviceIO } from './device-io.js';
import { BODY, OPERATION, type SentBody } from './mailbox.js';
import { responseFragment, type BinaryParts } from './response-body.js';

/** The operation kinds read here: a plain request, a request. */
export const HTTP_OPERATIONS: ReadonlySet<string> = new Set([OPERATION.plainRequest, OPERATION.request]);

type BodySpec = SentBody | null;

/** The request an outbox line carries, or undefined for one that is not well formed (the guest never sends one). */
export function httpRequest(kind: string, text: string, binary: Uint8Array | undefined): HttpRequest | undefined {
  let request: HttpRequest;
  if (kind === OPERATION.plainRequest) {
    const comma = text.indexOf(',');
    request = { method: text.slice(0, comma) as HttpRequest['method'], path: text.slice(comma + 1), headers: [] };
  } else {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return undefined;
    }
    const [method, path, headers, body] = payload as [string, string, Array<[string, string]>, BodySpec];
    request = { method: method as HttpRequest['method'], path, headers };
    if (body !== null) {
      request.body = body[0] === BODY.text ? Buffer.from(body[1], 'utf8') : (binary ?? new Uint8Array(0)).subarray(body[1], body[1] + body[2]);
    }
  }
  return isHttpMethod(request.method) ? request : undefined;
}

/** Sends `request` on the device's connection; resolves with the response fragment the guest decodes (`settle`). */
export function performHttp(http: NonNullable<DeviceIO['http']>, request: HttpRequest, out: BinaryParts): Promise<string> {
  let pending: Promise<HttpResponse>;
  try {
    pending = http(request);
  } catch (error) {
    pending = Promise.reject(error);
  }
  return pending.then((response) => `[${responseFragment(response, out)}]`);
}
