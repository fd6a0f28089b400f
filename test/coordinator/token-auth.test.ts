/**
 * Every way a token can reach the coordinator (the Bearer header on either port,
 * the WebSocket subprotocol of the live stream) and every way it can be wrong or
 * misplaced (a `?token=` on either port), first against the one check, then
 * against both real servers.
 */
import test from 'ava';
import WebSocket from 'ws';
import { bearerToken, LIVE_PROTOCOL, presentedTokens, tokenCheck, tokenInQuery, TOKEN_PROTOCOL_PREFIX, type TokenPort, type TokenRequest } from '../../ts/coordinator/token-auth.js';
import { CONTROL_CHARACTER } from '../../ts/shared/control-characters.js';
import { coordinatorFor } from '../api/coordinator-harness.js';

const TOKEN = 's3cret token';
const carried = (token: string) => `${TOKEN_PROTOCOL_PREFIX}${Buffer.from(token).toString('base64url')}`;

/** A request to `path` with what it presents. */
function request(path: string, presents: Partial<Omit<TokenRequest, 'path'>> = {}): TokenRequest {
  return { method: 'GET', path, authorization: undefined, protocols: undefined, ...presents };
}

interface Case {
  name: string;
  port: TokenPort;
  request: TokenRequest;
  admitted: boolean;
}

/** Each way the right token arrives, then the same way carrying a wrong one. */
const WAYS: Array<{ name: string; port: TokenPort; as: (token: string) => TokenRequest }> = [
  { name: 'Bearer header on the API', port: 'api', as: (token) => request('/api/runs/current', { authorization: `Bearer ${token}` }) },
  { name: 'bearer header, scheme in lower case, extra blanks', port: 'api', as: (token) => request('/api/reports', { authorization: `  bearer \t ${token}  ` }) },
  { name: 'Bearer header on the generator port', port: 'generator', as: (token) => request('/', { authorization: `Bearer ${token}` }) },
  { name: 'subprotocol of the live stream', port: 'api', as: (token) => request('/api/live', { protocols: `${LIVE_PROTOCOL}, ${carried(token)}` }) },
];

const WRONG = ['s3cret', 's3cret token!', 'S3CRET TOKEN', '', 'x'.repeat(4096), 's3cret\u0000token'];

const CASES: Case[] = [
  ...WAYS.map((way) => ({ name: way.name, port: way.port, request: way.as(TOKEN), admitted: true })),
  ...WAYS.flatMap((way) => WRONG.map((wrong) => ({ name: `${way.name}, wrong token ${JSON.stringify(wrong.slice(0, 20))}`, port: way.port, request: way.as(wrong), admitted: false }))),
  { name: 'nothing presented (API)', port: 'api', request: request('/api/runs'), admitted: false },
  { name: 'nothing presented (generator port)', port: 'generator', request: request('/'), admitted: false },
  { name: 'Basic instead of Bearer', port: 'api', request: request('/api/runs', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }), admitted: false },
  { name: 'the token without a scheme', port: 'api', request: request('/api/runs', { authorization: TOKEN }), admitted: false },
  { name: '"Bearer" and no token', port: 'generator', request: request('/', { authorization: 'Bearer ' }), admitted: false },
  { name: 'subprotocol on an API path other than the live stream', port: 'api', request: request('/api/runs', { protocols: carried(TOKEN) }), admitted: false },
  { name: 'subprotocol on the live stream with POST', port: 'api', request: { ...request('/api/live', { protocols: carried(TOKEN) }), method: 'POST' }, admitted: false },
  { name: 'subprotocol on the generator port', port: 'generator', request: request('/', { protocols: carried(TOKEN) }), admitted: false },
];

for (const c of CASES) {
  test(`token check: ${c.name} → ${c.admitted ? 'admitted' : 'refused'}`, (t) => {
    t.is(tokenCheck(TOKEN, c.port)(c.request), c.admitted);
  });
}

test('the Bearer rule is one rule: scheme in any case, the token as given, blanks around it dropped', (t) => {
  t.is(bearerToken('Bearer abc'), 'abc');
  t.is(bearerToken('BEARER  a b c '), 'a b c');
  t.is(bearerToken('Bearerabc'), undefined);
  t.is(bearerToken('Bearer'), undefined);
  t.is(bearerToken(undefined), undefined);
  t.deepEqual(presentedTokens(request('/', { authorization: 'Bearer a' }), 'generator'), ['a']);
  t.true(tokenInQuery('token=a&x=1'));
  t.false(tokenInQuery('expires=1&signature=a'));
});

const status = async (url: string, headers: Record<string, string> = {}): Promise<number> => (await fetch(url, { headers })).status;

/** How a WebSocket upgrade ends: 'open', or the HTTP status it was refused with. */
function upgrade(url: string, options: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
    ws.once('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', () => {});
  });
}

/** The wrong tokens an HTTP header can carry (no control characters). */
const WRONG_IN_HEADERS = WRONG.filter((wrong) => !CONTROL_CHARACTER.test(wrong));

test.serial('both real ports: the right token admitted each way it may arrive, a wrong or misplaced one refused with 401', async (t) => {
  const c = await coordinatorFor(t, { token: TOKEN, generatorPort: true, generators: 0 });
  const api = c.url;
  const live = `${api.replace(/^http/, 'ws')}/api/live`;
  const generators = c.generatorUrl!;

  t.is(await status(`${api}/api/runs/current`, { authorization: `Bearer ${TOKEN}` }), 404, 'the header: past the token, no run yet');
  t.is(await status(`${api}/api/generators`, { authorization: `bearer ${TOKEN}` }), 200);
  for (const wrong of WRONG_IN_HEADERS) t.is(await status(`${api}/api/generators`, { authorization: `Bearer ${wrong}` }), 401, `API, Bearer ${JSON.stringify(wrong.slice(0, 20))}`);
  t.is(await status(`${api}/api/generators`), 401, 'API, nothing');
  t.is(await status(`${api}/api/generators?token=${encodeURIComponent(TOKEN)}`), 401, 'API, ?token=');

  t.is(await upgrade(live, { protocols: [LIVE_PROTOCOL, carried(TOKEN)] }), 'open', 'live stream, subprotocol');
  t.is(await upgrade(live, { headers: { authorization: `Bearer ${TOKEN}` }, protocols: [LIVE_PROTOCOL] }), 'open', 'live stream, header');
  t.is(await upgrade(live, { protocols: [LIVE_PROTOCOL, carried('wrong')] }), 401, 'live stream, wrong subprotocol');
  t.is(await upgrade(live, { protocols: [LIVE_PROTOCOL] }), 401, 'live stream, nothing');

  t.is(await upgrade(generators, { headers: { authorization: `Bearer ${TOKEN}` } }), 'open', 'generator port, header');
  t.is(await upgrade(`${generators}/?token=${encodeURIComponent(TOKEN)}`), 401, 'generator port, the right token as ?token=: never in a URL');
  for (const wrong of WRONG_IN_HEADERS) {
    t.is(await upgrade(generators, { headers: { authorization: `Bearer ${wrong}` } }), 401, `generator port, Bearer ${JSON.stringify(wrong.slice(0, 20))}`);
    t.is(await upgrade(`${generators}/?token=${encodeURIComponent(wrong)}`), 401, `generator port, ?token=${JSON.stringify(wrong.slice(0, 20))}`);
  }
  t.is(await upgrade(generators, { protocols: [carried(TOKEN)] }), 401, 'generator port, subprotocol');
  t.is(await upgrade(generators), 401, 'generator port, nothing');
});
