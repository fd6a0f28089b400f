/**
 * BERT bodies as a user runs them: sgcli against a real HTTP server that checks
 * the request's bytes against a term Python's erlang-py wrote, and answers with
 * one it wrote, over HTTP/1.1 and HTTP/2.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { readArchive, total } from './run-archive.js';
import { runSgcli, workspace } from './sgcli-child.js';

const FIXTURES = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/sandbox/bert/fixtures.json', import.meta.url)), 'utf8')) as Array<{ name: string; hex: string }>;
const REQUEST = FIXTURES.find((f) => f.name === 'tuple')!; // {ok, 42, <<"x">>}
const REPLY = FIXTURES.find((f) => f.name === 'nested map')!; // #{<<"user">> => #{<<"id">> => 7, <<"roles">> => [<<"admin">>]}}

const SCRIPT = `
const r = await post('/rpc', {}, bert(bert.tuple(bert.atom('ok'), 42, 'x')));
if (r.bert && r.body.user.id === 7 && r.body.user.roles[0] === 'admin') incCounter('decoded');
await delay(100);
`;

function answer(req: IncomingMessage, res: ServerResponse, counts: { good: number; bad: number }): void {
  const parts: Buffer[] = [];
  req.on('data', (chunk: Buffer) => parts.push(chunk));
  req.on('end', () => {
    const good = req.headers['content-type'] === 'application/x-bert' && Buffer.concat(parts).toString('hex') === REQUEST.hex;
    counts[good ? 'good' : 'bad']++;
    res.writeHead(good ? 200 : 400, { 'content-type': 'application/x-bert' }).end(Buffer.from(REPLY.hex, 'hex'));
  });
}

for (const protocol of ['http', 'http2'] as const) {
  test(`${protocol}: bert(value) arrives as the bytes Erlang writes, and the server's term is decoded`, async (t) => {
    const counts = { good: 0, bad: 0 };
    const server = protocol === 'http' ? createServer((req, res) => answer(req, res, counts)) : createH2Server((req, res) => answer(req as never, res as never, counts));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const ws = await workspace(t);
    const script = await ws.file('bert.js', SCRIPT);
    const port = (server.address() as AddressInfo).port;
    const run = await runSgcli([
      'run',
      `bert-${protocol}`,
      script,
      '--target-hosts',
      '127.0.0.1',
      '--target-port',
      String(port),
      '--target-protocol',
      protocol,
      '--size',
      '10',
      '--sustain',
      '2',
      '--data-dir',
      ws.dataDir,
    ]);
    t.is(run.code, EXIT.ok, run.stderr);
    t.true(counts.good > 0);
    t.is(counts.bad, 0);
    const archive = await readArchive(run.archive!);
    // A device stopped at the end may have its last response counted but not yet looked at: at most one per device.
    const decoded = total(archive, 'decoded_count');
    const responses = total(archive, 'response_count');
    t.true(decoded > 0 && decoded >= responses - 10, `${decoded} of ${responses} responses decoded`);
  });
}
