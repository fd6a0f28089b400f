import test from 'ava';
import { fakeHttp, sandbox } from './fakes.js';
import { codeOf } from '../support/code-of.js';
import { until } from '../support/until.js';

const MiB = 1024 * 1024;

const tally = (codes: string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const code of codes) counts[code] = (counts[code] ?? 0) + 1;
  return counts;
};

// Devices of one script take roles by start order (params are the same for all of them).
const ROLE = `globalThis.n = (globalThis.n ?? 0) + 1; const role = params.roles[(globalThis.n - 1) % params.roles.length];`;

const LEAK_WITH_PAUSES = `const keep = []; for (;;) { for (let i = 0; i < 20000; i++) keep.push({ i, s: 'leak' + i }); await delay(1); }`;
const HONEST = `for (let i = 0; i < params.rounds; i++) { await delay(2); incCounter('fine'); }`;

test('small leaks with pauses: each leaker ends with memory_limit at its cap, honest devices beside it finish, the memory comes back', async (t) => {
  const { sb, sink } = await sandbox(`${ROLE} if (role === 'leak') { ${LEAK_WITH_PAUSES} } ${HONEST}`, { roles: ['leak', 'honest', 'honest'], rounds: 40 }, { memoryBytes: 8 * MiB });
  const idle = sb.guestMemoryBytes();
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, sb.guestMemoryBytes())), 5);
  const codes = await Promise.all(Array.from({ length: 12 }, (_, i) => codeOf(sb.run(i, {}))));
  clearInterval(watch);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const after = sb.guestMemoryBytes();
  sb.dispose();
  t.deepEqual(tally(codes), { memory_limit: 4, ok: 8 }, codes.join());
  t.is(sink.counts.get('fine'), 8 * 40);
  // Four leakers at 8 MiB each, at most; nothing is left once they are gone.
  t.true(peak - idle <= 4 * 8 * MiB + 2 * MiB, `peak ${((peak - idle) / MiB).toFixed(1)} MiB`);
  t.true(peak - idle > 8 * MiB, `peak ${((peak - idle) / MiB).toFixed(1)} MiB: the leakers did leak`);
  t.true(after - idle < 1 * MiB, `${((after - idle) / MiB).toFixed(2)} MiB left`);
});

test('many small strings with no pause: memory_limit, not a runaway heap', async (t) => {
  const { sb } = await sandbox(
    `${ROLE} if (role === 'leak') { const keep = []; for (let i = 0; ; i++) keep.push('s' + i); } ${HONEST}`,
    { roles: ['leak', 'honest'], rounds: 5 },
    { memoryBytes: 4 * MiB, cpuMsPerTurn: 5000 },
  );
  const codes = await Promise.all(Array.from({ length: 4 }, (_, i) => codeOf(sb.run(i, {}))));
  const left = sb.guestMemoryBytes();
  sb.dispose();
  t.deepEqual(tally(codes), { memory_limit: 2, ok: 2 }, codes.join());
  t.true(left < 2 * MiB, `${(left / MiB).toFixed(2)} MiB left`);
});

test('one large ArrayBuffer, and many buffers each under the cap: memory_limit', async (t) => {
  const { sb } = await sandbox(
    `${ROLE}
     if (role === 'large') { const big = new ArrayBuffer(params.large); new Uint8Array(big)[0] = 1; await delay(1); }
     if (role === 'many') { const keep = []; for (;;) { keep.push(new Uint8Array(512 * 1024)); await delay(1); } }
     ${HONEST}`,
    { roles: ['large', 'many', 'honest'], rounds: 5, large: 20 * MiB },
    { memoryBytes: 16 * MiB },
  );
  const codes = await Promise.all(Array.from({ length: 6 }, (_, i) => codeOf(sb.run(i, {}))));
  sb.dispose();
  t.deepEqual(codes, ['memory_limit', 'memory_limit', 'ok', 'memory_limit', 'memory_limit', 'ok']);
});

test('responses a device keeps are its own: text, JSON and byte bodies count against its cap; devices that read the same responses and let them go are not charged', async (t) => {
  const body = 'x'.repeat(64 * 1024);
  const { io, requests } = fakeHttp((req) => ({
    status: 200,
    headers: [['content-type', req.path === '/json' ? 'application/json' : req.path === '/bytes' ? 'application/octet-stream' : 'text/plain']],
    body: Buffer.from(req.path === '/json' ? JSON.stringify({ body }) : body),
  }));
  const { sb, sink } = await sandbox(
    `${ROLE}
     const path = params.paths[Math.floor((globalThis.n - 1) / params.roles.length) % params.paths.length];
     if (role === 'keep') { const keep = []; for (let i = 0; i < params.rounds; i++) keep.push(await get(path)); }
     else for (let i = 0; i < params.rounds; i++) { const r = await get(path); if (r.status === 200) incCounter('fine'); }`,
    { roles: ['keep', 'honest', 'honest'], paths: ['/text', '/json', '/bytes'], rounds: 200 },
    { memoryBytes: 4 * MiB },
  );
  const idle = sb.guestMemoryBytes();
  // 200 responses of 64 KiB: 12.5 MiB for a device that keeps them all, far past its 4 MiB.
  const codes = await Promise.all(Array.from({ length: 9 }, (_, i) => codeOf(sb.run(i, io))));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const after = sb.guestMemoryBytes();
  sb.dispose();
  t.deepEqual(codes, ['memory_limit', 'ok', 'ok', 'memory_limit', 'ok', 'ok', 'memory_limit', 'ok', 'ok'], codes.join());
  t.is(sink.counts.get('fine'), 6 * 200);
  t.true(requests.length < 9 * 200, 'the keepers stopped early');
  t.true(after - idle < 1 * MiB, `${((after - idle) / MiB).toFixed(2)} MiB left`);
});

test('a buffer under the cap is fine, and held memory is charged to the device that holds it', async (t) => {
  const { sb } = await sandbox(`${ROLE} if (role === 'hold') { const b = new Uint8Array(params.bytes); b[0] = 1; await delay(100); b[1] = 1; } else await delay(100);`, {
    roles: ['hold', 'idle'],
    bytes: 6 * MiB,
  });
  const a = sb.run(1, {});
  const b = sb.run(2, {});
  await until(() => sb.stats.operations === 2);
  const holder = sb.deviceMemoryBytes(1)!;
  const idle = sb.deviceMemoryBytes(2)!;
  await Promise.all([a, b]);
  sb.dispose();
  t.true(holder >= 6 * MiB && holder < 7 * MiB, `holder charged ${holder}`);
  t.true(idle < 16 * 1024, `idle device charged ${idle}`);
});

test('a mixed run: each error counter equals the devices that misbehaved that way, honest devices get none', async (t) => {
  const { sb, sink } = await sandbox(
    `${ROLE}
     await delay(1);
     if (role === 'loop') { for (;;) {} }
     if (role === 'recurse') { const f = (n) => f(n + 1) + 1; f(0); }
     if (role === 'leak') { ${LEAK_WITH_PAUSES} }
     if (role === 'throw') throw new TypeError('bad script');
     ${HONEST}`,
    { roles: ['loop', 'recurse', 'leak', 'throw', 'honest', 'honest', 'honest'], rounds: 20 },
    { memoryBytes: 4 * MiB, cpuMsPerTurn: 100 },
  );
  const codes = await Promise.all(Array.from({ length: 21 }, (_, i) => codeOf(sb.run(i, {}))));
  sb.dispose();
  t.deepEqual(tally(codes), { cpu_limit: 3, stack_overflow: 3, memory_limit: 3, script: 3, ok: 9 }, codes.join());
  // Every honest device's own count is whole: none was cut short.
  t.is(sink.counts.get('fine'), 9 * 20);
});

test('CPU is charged per device: slices just under the limit never add up to a cpu_limit for another device', async (t) => {
  const { sb } = await sandbox(
    `${ROLE}
     if (role === 'busy') { for (let k = 0; k < 5; k++) { const end = Date.now() + params.busyMs; while (Date.now() < end) {} await delay(1); } }
     else { for (let i = 0; i < 20; i++) await delay(1); }`,
    { roles: ['busy', 'busy', 'busy', 'honest'], busyMs: 60 },
    { cpuMsPerTurn: 100 },
  );
  const codes = await Promise.all(Array.from({ length: 8 }, (_, i) => codeOf(sb.run(i, {}))));
  sb.dispose();
  t.deepEqual(tally(codes), { ok: 8 }, codes.join());
});

/** Milliseconds from run() to the device's end, and how it ended. */
async function timedRun(sb: Awaited<ReturnType<typeof sandbox>>['sb'], id: number, heavy: boolean): Promise<{ ms: number; code: string }> {
  const started = performance.now();
  const code = await codeOf(sb.run(id, {}, undefined, heavy));
  return { ms: performance.now() - started, code };
}

/** A light device waking every 5 ms in a sandbox of its own, until stopped (a stopped run never settles): the neighbour the heavy share is for. */
async function lightNeighbour(): Promise<() => void> {
  const { sb } = await sandbox(`for (;;) await delay(5);`);
  void sb.run(1, {});
  await new Promise((resolve) => setTimeout(resolve, 50));
  return () => {
    sb.stop(1);
    sb.dispose();
  };
}

// One slice of 30 ms and nothing else: long, but no sign of anything by itself.
const ONE_LONG_SLICE = `const end = Date.now() + 30; while (Date.now() < end) {}`;

test.serial('beside a light device, one whose last run ended on a limit waits for the heavy share from its first slice; one that is not marked runs at once', async (t) => {
  const stopLight = await lightNeighbour();
  const { sb } = await sandbox(ONE_LONG_SLICE);
  const light = [await timedRun(sb, 1, false), await timedRun(sb, 2, false)];
  const heavy = [await timedRun(sb, 3, true), await timedRun(sb, 4, true)];
  sb.dispose();
  stopLight();
  t.deepEqual(
    [...light, ...heavy].map((run) => run.code),
    ['ok', 'ok', 'ok', 'ok'],
  );
  // Unmarked, one long slice after another goes at once.
  t.true(light[1]!.ms < 200, `unmarked second run took ${light[1]!.ms.toFixed(0)} ms`);
  // Marked, the second waits for 19 times the first's 30 ms (5 % of the thread).
  t.true(heavy[1]!.ms >= 450, `marked second run took ${heavy[1]!.ms.toFixed(0)} ms`);
});

test.serial('with no light device about, heavy devices take the whole thread', async (t) => {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const { sb } = await sandbox(ONE_LONG_SLICE);
  const heavy = [await timedRun(sb, 1, true), await timedRun(sb, 2, true), await timedRun(sb, 3, true)];
  sb.dispose();
  t.deepEqual(
    heavy.map((run) => run.code),
    ['ok', 'ok', 'ok'],
  );
  for (const run of heavy) t.true(run.ms < 200, `a marked run alone took ${run.ms.toFixed(0)} ms`);
});

test.serial('beside a light device, a device starting a script whose last run ended on a limit waits for the heavy share; once a run ends well, starts go at once again', async (t) => {
  const stopLight = await lightNeighbour();
  const { sb } = await sandbox(`${ROLE} if (role === 'spin') { for (;;) {} } await delay(1);`, { roles: ['spin', 'honest', 'honest'] }, { cpuMsPerTurn: 40 });
  const spin = await timedRun(sb, 1, false);
  const afterLimit = await timedRun(sb, 2, false);
  const afterGood = await timedRun(sb, 3, false);
  sb.dispose();
  stopLight();
  t.deepEqual([spin.code, afterLimit.code, afterGood.code], ['cpu_limit', 'ok', 'ok']);
  // The spinner's 40 ms slice ended on its limit: the next first slice waits 4 x 40 ms (the 20 % of a first heavy slice).
  t.true(afterLimit.ms >= 120, `the start after the limit took ${afterLimit.ms.toFixed(0)} ms`);
  t.true(afterGood.ms < 100, `the start after a good end took ${afterGood.ms.toFixed(0)} ms`);
});
