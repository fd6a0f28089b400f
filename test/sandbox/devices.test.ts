import test from 'ava';
import type { HttpResponse } from '../../ts/generator/protocols/device-connection.js';
import { fakeHttp, jsonResponse, sandbox } from './fakes.js';
import { until } from '../support/until.js';

test('stop() abandons a device waiting on a host operation: its result is dropped and its promise stays pending', async (t) => {
  const { sb, sink } = await sandbox(`incCounter('before'); await get('/slow'); incCounter('after');`);
  let answer!: (r: HttpResponse) => void;
  let asked!: () => void;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  const io = {
    http: () => {
      asked();
      return new Promise<HttpResponse>((resolve) => (answer = resolve));
    },
  };
  let settled = false;
  void sb.run(1, io).then(
    () => (settled = true),
    () => (settled = true),
  );
  await requested;
  t.is(sb.deviceCount, 1);
  sb.stop(1);
  t.is(sb.deviceCount, 0);
  answer(jsonResponse({}));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.false(settled);
  t.is(sink.counts.get('before'), 1);
  t.is(sink.counts.get('after'), undefined);
  // The id is free again and a new device under it runs normally.
  await sb.run(1, fakeHttp().io);
  t.is(sink.counts.get('after'), 1);
  sb.dispose();
});

test('stop() of a device in delay releases its coroutine', async (t) => {
  const { sb } = await sandbox(`await delay(60_000);`);
  const idle = sb.guestMemoryBytes();
  for (let i = 0; i < 200; i++) void sb.run(i, {});
  await until(() => sb.stats.operations === 200);
  const waiting = sb.guestMemoryBytes();
  for (let i = 0; i < 200; i++) sb.stop(i);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const released = sb.guestMemoryBytes();
  sb.dispose();
  t.true(waiting - idle > 200 * 500, `200 waiting devices hold ${waiting - idle} bytes`);
  t.true(released - idle < (waiting - idle) / 10, `${released - idle} bytes left after stop`);
});

test('1,000 concurrent devices share one runtime; the mailbox crosses once per turn and twice per woken device', async (t) => {
  const { sb, sink } = await sandbox(`for (let i = 0; i < 5; i++) { await get('/'); await delay(0); } incCounter('done');`);
  const { io, requests } = fakeHttp();
  const runs = Array.from({ length: 1000 }, (_, i) => sb.run(i, io));
  t.is(sb.deviceCount, 1000);
  await Promise.all(runs);
  const stats = sb.stats;
  sb.dispose();
  t.is(sink.counts.get('done'), 1000);
  t.is(requests.length, 5000);
  t.is(stats.operations, 10_000);
  // Per turn: one delivery, one collection, a few job batches; per woken device one
  // wake and one job run (its slice, measured alone); never one per operation.
  const wakes = 1000 + stats.operations;
  t.true(stats.guestCalls <= stats.turns * 10 + 2 * wakes, `${stats.guestCalls} calls in ${stats.turns} turns for ${wakes} wakes`);
  t.true(stats.turns < 200, `${stats.turns} turns`);
  t.is(stats.hostCalls, 0);
});

test('a device that returns resolves run(), and deviceCount follows devices', async (t) => {
  const { sb } = await sandbox(`await delay(5);`);
  const a = sb.run(1, {});
  await t.throwsAsync(sb.run(1, {}), { message: /already running/ });
  t.is(sb.deviceCount, 1);
  await a;
  t.is(sb.deviceCount, 0);
  sb.dispose();
  await t.throwsAsync(sb.run(2, {}), { message: /disposed/ });
});
