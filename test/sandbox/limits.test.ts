import test from 'ava';
import { sandbox } from './fakes.js';
import { codeOf } from '../support/code-of.js';

test('one device in while(true) dies alone; 19 others looping with delay finish', async (t) => {
  const { sb, sink } = await sandbox(
    `await delay(1);
     if (globalThis.spun === undefined) { globalThis.spun = true; await delay(10); while (true) {} }
     for (let i = 0; i < 10; i++) { await delay(5); incCounter('tick'); }`,
    {},
    { cpuMsPerTurn: 50 },
  );
  const codes = await Promise.all(Array.from({ length: 20 }, (_, i) => codeOf(sb.run(i, {}))));
  sb.dispose();
  t.is(codes.filter((c) => c === 'cpu_limit').length, 1, codes.join());
  t.is(codes.filter((c) => c === 'ok').length, 19, codes.join());
  t.is(sink.counts.get('tick'), 190);
});

test('deep recursion is stack_overflow, and the runtime stays usable', async (t) => {
  const { sb } = await sandbox(`if (params.deep) { const f = (n) => f(n + 1) + 1; f(0); } await delay(1);`, {});
  t.is(await codeOf(sb.run(1, {})), 'ok');
  sb.dispose();
  const deep = await sandbox(`if (params.deep) { const f = (n) => f(n + 1) + 1; f(0); } await delay(1);`, { deep: true });
  t.is(await codeOf(deep.sb.run(1, {})), 'stack_overflow');
  t.is(await codeOf(deep.sb.run(2, {})), 'stack_overflow');
  deep.sb.dispose();
});

// quickjs-emscripten 0.32 checks the cap per allocation only (its WASM build has no
// malloc_usable_size, upstream issue 271), so this allocates past the cap at once.
test('an allocation past the memory cap is memory_limit for that device only', async (t) => {
  const { sb, sink } = await sandbox(
    `await delay(1);
     globalThis.n = (globalThis.n ?? 0) + 1;
     if (globalThis.n === params.hog) { const big = new Uint8Array(params.bytes); big[0] = 1; }
     for (let i = 0; i < 5; i++) { await delay(2); incCounter('alive'); }`,
    { hog: 3, bytes: 32 * 1024 * 1024 },
    { memoryBytes: 16 * 1024 * 1024 },
  );
  const codes = await Promise.all(Array.from({ length: 6 }, (_, i) => codeOf(sb.run(i, {}))));
  sb.dispose();
  t.is(codes.filter((c) => c === 'memory_limit').length, 1, codes.join());
  t.is(codes.filter((c) => c === 'ok').length, 5, codes.join());
  t.is(sink.counts.get('alive'), 25);
});

test('an uncaught throw counts under its code when it looks like a metric key, else script', async (t) => {
  const { sb } = await sandbox(`
    if (params.kind === 'code') throw Object.assign(new Error('x'), { code: 'login_failed' });
    if (params.kind === 'badcode') throw Object.assign(new Error('x'), { code: 'Not A Key' });
    if (params.kind === 'string') throw 'plain';
    throw new TypeError('t');`);
  t.is(await codeOf(sb.run(1, {})), 'script');
  sb.dispose();
  for (const [kind, code] of [
    ['code', 'login_failed'],
    ['badcode', 'script'],
    ['string', 'script'],
  ] as const) {
    const s = await sandbox(
      `
    if (params.kind === 'code') throw Object.assign(new Error('x'), { code: 'login_failed' });
    if (params.kind === 'badcode') throw Object.assign(new Error('x'), { code: 'Not A Key' });
    if (params.kind === 'string') throw 'plain';`,
      { kind },
    );
    t.is(await codeOf(s.sb.run(1, {})), code, kind);
    s.sb.dispose();
  }
});
