import test from 'ava';
import { sandbox } from './fakes.js';
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
