/**
 * The optional shared token of the management API (STRESSGRID_TOKEN). Every
 * request must carry `Authorization: Bearer`, except the browser's live
 * WebSocket, which cannot set that header: it offers the token as a WebSocket
 * subprotocol (`stressgrid-token.<base64url>`) beside `stressgrid-live`. The
 * token never goes in a URL, where logs and histories would keep it; downloads
 * instead use links the coordinator signed (download-links.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The subprotocol the live stream answers with. */
export const LIVE_PROTOCOL = 'stressgrid-live';
/** Prefix of the subprotocol that carries the token, base64url-encoded (any token, only token characters). */
export const TOKEN_PROTOCOL_PREFIX = 'stressgrid-token.';

export interface TokenRequest {
  method: string;
  /** Path without the query. */
  path: string;
  authorization: string | undefined;
  /** The Sec-WebSocket-Protocol header, if any. */
  protocols: string | undefined;
}

/** Paths the token guards (the API, reports, Prometheus's /metrics); the website's own files stay public so its login can load. */
export const isGuardedPath = (path: string): boolean => path === '/api' || path.startsWith('/api/') || path.startsWith('/results/') || path === METRICS_PATH;

/** The Prometheus scrape endpoint. */
export const METRICS_PATH = '/metrics';

/** Builds the check once; compares digests so neither length nor content leaks through timing. */
export function tokenCheck(token: string): (request: TokenRequest) => boolean {
  const expected = digest(token);
  const matches = (given: string | undefined): boolean => given !== undefined && timingSafeEqual(digest(given), expected);
  return (request) => {
    const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(request.authorization ?? '');
    if (bearer && matches(bearer[1])) return true;
    return request.method === 'GET' && request.path === '/api/live' && matches(protocolToken(request.protocols));
  };
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
