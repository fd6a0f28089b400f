/**
 * The coordinator's one check of the shared token (STRESSGRID_TOKEN), for both of
 * its ports. A request presents it as `Authorization: Bearer <token>`, or:
 * on the API port, only the browser's live WebSocket (`GET /api/live`), which
 * cannot set that header, may offer it as a WebSocket subprotocol
 * (`stressgrid-token.<base64url>`) beside `stressgrid-live`. The token never goes
 * in a URL, on either port, where logs and histories would keep it: a `?token=` is
 * refused like a wrong token; downloads use links the coordinator signed
 * (download-links.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The subprotocol the live stream answers with. */
export const LIVE_PROTOCOL = 'stressgrid-live';
/** Prefix of the subprotocol that carries the token, base64url-encoded (any token, only token characters). */
export const TOKEN_PROTOCOL_PREFIX = 'stressgrid-token.';
/** The live stream's path: the one request that may carry the token as a subprotocol. */
export const LIVE_PATH = '/api/live';
/** The query parameter a token must not be carried in (named in the refusal). */
export const TOKEN_QUERY_PARAM = 'token';

/** Which port a request came to. */
export type TokenPort = 'api' | 'generator';

export interface TokenRequest {
  method: string;
  /** Path without the query (a token in the query is never read). */
  path: string;
  authorization: string | undefined;
  /** The Sec-WebSocket-Protocol header, if any. */
  protocols: string | undefined;
}

/** Paths the token guards (the API, reports, Prometheus's /metrics); the website's own files stay public so its login can load. */
export const isGuardedPath = (path: string): boolean => path === '/api' || path.startsWith('/api/') || path.startsWith('/results/') || path === METRICS_PATH;

/** The Prometheus scrape endpoint. */
export const METRICS_PATH = '/metrics';

/** The token of an `Authorization: Bearer <token>` header: the scheme in any case, the token as given. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer[ \t]+(\S(?:.*\S)?)$/i.exec(header?.trim() ?? '')?.[1];
}

/** Every token `request` presents on `port`, each way it may arrive there. */
export function presentedTokens(request: TokenRequest, port: TokenPort): string[] {
  const tokens: string[] = [];
  const bearer = bearerToken(request.authorization);
  if (bearer !== undefined) tokens.push(bearer);
  if (port === 'api' && request.method === 'GET' && request.path === LIVE_PATH) {
    const carried = protocolToken(request.protocols);
    if (carried !== undefined) tokens.push(carried);
  }
  return tokens;
}

/**
 * Builds the check once. It compares SHA-256 digests in constant time, so neither
 * the token's length nor its content leaks through how long a refusal takes.
 */
export function tokenCheck(token: string, port: TokenPort): (request: TokenRequest) => boolean {
  const expected = digest(token);
  return (request) => presentedTokens(request, port).some((given) => timingSafeEqual(digest(given), expected));
}

/** Whether a URL's query string (without its `?`) carries a `token=`, so a refusal can say where the token goes instead. */
export function tokenInQuery(query: string): boolean {
  return new URLSearchParams(query).has(TOKEN_QUERY_PARAM);
}

/** The live stream's choice among the subprotocols a client offers: never the token's. */
export function chooseLiveProtocol(offered: ReadonlySet<string>): string | false {
  return offered.has(LIVE_PROTOCOL) ? LIVE_PROTOCOL : false;
}

function protocolToken(header: string | undefined): string | undefined {
  const offered = (header ?? '').split(',').map((p) => p.trim());
  const carrier = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  return carrier === undefined ? undefined : Buffer.from(carrier.slice(TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
