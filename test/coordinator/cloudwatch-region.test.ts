import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { cloudWatchChoice, instanceRegion, looksLikeEc2, resolveCloudWatchRegion } from '../../ts/coordinator/cloudwatch-region.js';
import { cloudWatchWriterKind } from '../../ts/coordinator/cloudwatch-writer-kind.js';
import { configuredWriters } from '../../ts/coordinator/configured-writers.js';
import { closedPort } from '../support/closed-port.js';

/** Instance metadata as EC2 serves it with IMDSv2 required: no token, no answer. */
async function imds(t: { teardown: (fn: () => void) => void }, region = 'ap-southeast-2'): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token' && req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return res.end('token-1');
    if (req.headers['x-aws-ec2-metadata-token'] !== 'token-1') return res.writeHead(401).end();
    if (req.url === '/latest/meta-data/placement/region') return res.end(region);
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

const never = () => Promise.reject(new Error('EC2 detection must not run'));

test('CW_REGION wins over AWS_REGION; off turns CloudWatch off even with AWS_REGION set', async (t) => {
  t.deepEqual(cloudWatchChoice({ CW_REGION: 'eu-central-1', AWS_REGION: 'us-east-1' }), { ok: true, choice: { kind: 'region', region: 'eu-central-1', from: 'CW_REGION' } });
  t.deepEqual(cloudWatchChoice({ AWS_REGION: 'us-east-1' }), { ok: true, choice: { kind: 'region', region: 'us-east-1', from: 'AWS_REGION' } });
  t.deepEqual(cloudWatchChoice({ CW_REGION: 'off', AWS_REGION: 'us-east-1' }), { ok: true, choice: { kind: 'off', why: 'CW_REGION=off' } });
  t.deepEqual(await resolveCloudWatchRegion({ kind: 'off', why: 'CW_REGION=off' }, {}, never), { region: null, why: 'CW_REGION=off' });
  t.deepEqual(cloudWatchChoice({ CW_REGION: 'auto' }), { ok: true, choice: { kind: 'metadata', asked: true } });
  t.deepEqual(cloudWatchChoice({}), { ok: true, choice: 'detect' });
});

test('a CW_REGION that is no region is refused with what it may be', (t) => {
  const r = cloudWatchChoice({ CW_REGION: 'Frankfurt' });
  t.false(r.ok);
  t.regex(!r.ok ? r.problem : '', /^CW_REGION: must be an AWS region like us-east-1, `auto` .* or `off`; got "Frankfurt"$/);
});

test('with nothing set, a machine that is no EC2 instance asks no metadata service', async (t) => {
  let checked = 0;
  const r = await resolveCloudWatchRegion('detect', {}, () => {
    checked++;
    return Promise.resolve(false);
  });
  t.is(checked, 1);
  t.is(r.region, null);
});

test('CW_REGION=auto reads the region from instance metadata with an IMDSv2 token', async (t) => {
  const server = await imds(t);
  const env = { CW_REGION: 'auto', AWS_EC2_METADATA_SERVICE_ENDPOINT: server.url };
  const choice = cloudWatchChoice(env);
  t.deepEqual(await resolveCloudWatchRegion(choice.ok ? choice.choice : 'detect', env, never), { region: 'ap-southeast-2', from: 'EC2 instance metadata' });
  t.deepEqual(server.asked, ['PUT /latest/api/token', 'GET /latest/meta-data/placement/region']);
});

test("on EC2 with nothing set, the instance's region is used", async (t) => {
  const server = await imds(t, 'sa-east-1');
  t.like(await resolveCloudWatchRegion('detect', { AWS_EC2_METADATA_SERVICE_ENDPOINT: server.url }, () => Promise.resolve(true)), { region: 'sa-east-1' });
});

test('CW_REGION=auto without instance metadata: off, saying why, quickly', async (t) => {
  const port = await closedPort();
  const before = performance.now();
  const r = await resolveCloudWatchRegion({ kind: 'metadata', asked: true }, { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}` }, never);
  t.true(performance.now() - before < 3000);
  t.deepEqual(r, { region: null, why: 'CW_REGION=auto but instance metadata could not be reached (ECONNREFUSED)' });
  await t.throwsAsync(instanceRegion({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}` }));
});

test('EC2 is recognised by its firmware vendor, read from files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sg-dmi-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ec2'), 'Amazon EC2\n');
  await writeFile(join(dir, 'qemu'), 'QEMU\n');
  t.true(await looksLikeEc2([join(dir, 'missing'), join(dir, 'ec2')]));
  t.false(await looksLikeEc2([join(dir, 'missing'), join(dir, 'qemu')]));
});

test('configured writers: a CloudWatch writer per run when a region is set, none when off, a problem when bad', async (t) => {
  const on = await configuredWriters({ CW_REGION: 'us-west-2' }, () => {}, [cloudWatchWriterKind(never)]);
  t.true(on.ok);
  if (on.ok) {
    t.deepEqual(on.writers.described, ['CloudWatch metrics on, region us-west-2 (from CW_REGION)']);
    const [first] = on.writers.create();
    t.is(first?.status?.().writer, 'cloudwatch');
    t.not(on.writers.create()[0], first, 'each run gets its own writer');
  }
  const off = await configuredWriters({ CW_REGION: 'off' }, () => {}, [cloudWatchWriterKind(never)]);
  t.true(off.ok && off.writers.create().length === 0);
  const bad = await configuredWriters({ CW_REGION: 'mars' }, () => {}, [cloudWatchWriterKind(never)]);
  t.regex(bad.ok ? '' : bad.problems.join('\n'), /^CW_REGION: must be an AWS region/);
});
