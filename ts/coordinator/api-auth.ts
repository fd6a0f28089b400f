/**
 * The optional shared token of the management API (STRESSGRID_TOKEN). Browsers
 * cannot put headers on a WebSocket or on a plain download link, so those two
 * also accept `?token=`; every other request must carry `Authorization: Bearer`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';


export interface TokenRequest {
  method: string;
  /** Path without the query. */
  path: string;
  authorization: string | undefined;
  /** The `token` query parameter, if any. */
  queryToken: string | undefined;
}

/** Paths the token guards; the website's own files stay public so its login can load. */
export const isGuardedPath = (path: string): boolean => path === '/api' || path.startsWith('/api/') || path.startsWith('/results/');

const acceptsQueryToken = (request: TokenRequest): boolean =>
  request.method === 'GET' && (request.path === '/api/live' || request.path.startsWith('/results/'));

/** Builds the check once; compares digests so neither length nor content leaks through timing. */
export function tokenCheck(token: string): (request: TokenRequest) => boolean {
  const expected = digest(token);
  const matches = (given: string | undefined): boolean => given !== undefined && timingSafeEqual(digest(given), expected);
  return (request) => {
    const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(request.authorization ?? '');
    if (bearer && matches(bearer[1])) return true;
    return acceptsQueryToken(request) && matches(request.queryToken);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
