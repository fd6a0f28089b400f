/**
 * `--coordinator`: the base URL of a coordinator's management API. sgcli speaks
 * to the API (port 8000), never to the generator port, so only http and https
 * are taken; a path is kept as a prefix for coordinators behind a proxy.
 */
import type { PlanProblem } from '../shared/plan.js';

export type CoordinatorUrlResult = { ok: true; base: URL } | { ok: false; problem: PlanProblem };

const EXAMPLE = 'http://coordinator:8000';

export function parseCoordinatorUrl(text: string): CoordinatorUrlResult {
  const fail = (message: string): CoordinatorUrlResult => ({ ok: false, problem: { path: '--coordinator', message } });
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return fail(`${JSON.stringify(text)} is not a URL; give the coordinator's API URL, like ${EXAMPLE}`);
  }
  if (url.protocol === 'ws:' || url.protocol === 'wss:') {
    return fail(`${text} is a WebSocket URL (generators connect on ws://…:9696); sgcli needs the coordinator's API URL, like ${EXAMPLE}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(`must be an http:// or https:// URL, like ${EXAMPLE}; got ${JSON.stringify(text)}`);
  if (url.search !== '' || url.hash !== '') return fail(`must not carry a query or fragment (give the token with --token or STRESSGRID_TOKEN); got ${JSON.stringify(text)}`);
  if (url.username !== '' || url.password !== '') return fail('must not carry credentials; give the token with --token or STRESSGRID_TOKEN');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return { ok: true, base: url };
}

/** `path` (without a leading slash) under the coordinator's base URL. */
export const coordinatorPath = (base: URL, path: string): URL => new URL(path.replace(/^\/+/, ''), base);
