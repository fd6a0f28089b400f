import test from 'ava';
import { lookup } from 'node:dns/promises';
import type { ResolvedPlan } from '../../ts/shared/plan.js';
import { resolveTargets } from '../../ts/generator/protocols/resolve-targets.js';

type Address = ResolvedPlan['addresses'][number];
const address = (host: string, extra: Partial<Address> = {}): Address => ({ host, port: 8080, protocol: 'http', verifyTls: false, ...extra });

test('IP literals pass through, v4 and v6, with the plan fields kept', async (t) => {
  const targets = await resolveTargets([address('127.0.0.1'), address('::1', { protocol: 'https', verifyTls: true, serverName: 'api.test' })]);
  t.deepEqual(targets, [
    { ip: '127.0.0.1', port: 8080, protocol: 'http', hostname: '127.0.0.1', verifyTls: false },
    { ip: '::1', port: 8080, protocol: 'https', hostname: '::1', serverName: 'api.test', verifyTls: true },
  ]);
});

test('a host name becomes one target per address it resolves to', async (t) => {
  const expected = [...new Set((await lookup('localhost', { all: true, verbatim: true })).map((a) => a.address))];
  const targets = await resolveTargets([address('localhost')]);
  t.deepEqual(
    targets.map((target) => target.ip),
    expected,
  );
  t.true(targets.some((target) => target.ip === '127.0.0.1'));
  t.true(targets.every((target) => target.hostname === 'localhost' && target.port === 8080));
});

test('an unresolvable name rejects with nx_domain naming the host', async (t) => {
  const err = await t.throwsAsync(resolveTargets([address('127.0.0.1'), address('does-not-exist.invalid')]));
  t.is((err as { code?: string }).code, 'nx_domain');
  t.regex(err.message, /does-not-exist\.invalid/);
});
