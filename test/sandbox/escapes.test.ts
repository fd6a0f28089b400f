import test from 'ava';
import { evaluate } from './fakes.js';

test('no require, process, module loader or host globals', async (t) => {
  const result = await evaluate(`
    const kinds = ['require', 'process', 'module', 'exports', 'Buffer', 'setTimeout', 'fetch', 'std', 'os', 'console', 'WebAssembly', '__filename']
      .map((n) => typeof globalThis[n]);
    let imported;
    try { await import('fs'); imported = 'loaded'; } catch (e) { imported = e.name; }
    return { kinds, imported };
  `);
  t.deepEqual(result, { kinds: Array(12).fill('undefined'), imported: 'ReferenceError' });
});

test('eval and the Function constructor only reach the guest', async (t) => {
  const result = await evaluate(`
    const viaFunction = Function('return typeof process + typeof require')();
    const viaCtor = get.constructor.constructor('return typeof process')();
    const viaAsync = await (async () => {}).constructor('return typeof require')();
    const viaEval = (0, eval)('typeof process + typeof globalThis.require');
    const viaProto = Object.getPrototypeOf(base64.encode).constructor('return this')() === globalThis;
    return [viaFunction, viaCtor, viaAsync, viaEval, viaProto];
  `);
  t.deepEqual(result, ['undefinedundefined', 'undefined', 'undefined', 'undefinedundefined', true]);
});

test('values from the host are plain guest values without host prototypes', async (t) => {
  const result = await evaluate(`
    const r = await get('/');
    const digest = crypto.hash('sha256', 'x');
    const protos = [Object.getPrototypeOf(r) === Object.prototype, Object.getPrototypeOf(r.headers) === Array.prototype,
      Object.getPrototypeOf(digest) === Uint8Array.prototype, Object.getPrototypeOf(randomBytes(1)) === Uint8Array.prototype];
    const reach = r.constructor.constructor('return typeof process')();
    return { protos, reach };
  `);
  t.deepEqual(result, { protos: [true, true, true, true], reach: 'undefined' });
});

test('the API globals cannot be replaced and params cannot be changed by a device', async (t) => {
  const result = await evaluate(
    `
    const errors = [];
    for (const f of [() => { base64 = null; }, () => { params.x = 1; }, () => { crypto.hash = null; }, () => { delete globalThis.json; }]) {
      try { f(); errors.push('allowed'); } catch (e) { errors.push(e.name); }
    }
    return errors;
  `,
    { x: 0 },
  );
  t.deepEqual(result, ['TypeError', 'TypeError', 'TypeError', 'TypeError']);
});
