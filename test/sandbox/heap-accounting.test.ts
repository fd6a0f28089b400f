import test from 'ava';
import { NO_LIMIT } from '../../ts/shared/script/heap-accounting.js';
import { quickJS } from '../../ts/shared/script/quickjs-module.js';

const MiB = 1024 * 1024;

async function runtime() {
  const { module, heap } = await quickJS();
  const rt = module.newRuntime();
  const ctx = rt.newContext();
  const ptr = (rt as unknown as { rt: { value: number } }).rt.value;
  return { rt, ctx, ptr, heap };
}

test('bytes are counted for every allocation pattern, refused past the limit, and given back', async (t) => {
  const { rt, ctx, ptr, heap } = await runtime();
  heap.install(ptr, 0);
  const eval_ = (code: string) => {
    const result = ctx.evalCode(code);
    if (result.error) {
      const error = ctx.dump(result.error) as { message?: string };
      result.error.dispose();
      return `error: ${error.message}`;
    }
    const value = ctx.dump(result.value) as unknown;
    result.value.dispose();
    return value;
  };
  const before = heap.size(ptr);
  eval_(`globalThis.a = []; for (let i = 0; i < 50000; i++) a.push({ i, s: 'x' + i }); 1`);
  const objects = heap.size(ptr) - before;
  t.true(objects > 2 * MiB, `50,000 small objects: ${objects} bytes`);
  eval_(`globalThis.b = new ArrayBuffer(3 * 1024 * 1024); 1`);
  t.true(heap.size(ptr) - before >= objects + 3 * MiB);
  eval_(`globalThis.a = null; globalThis.b = null; 1`);
  t.true(heap.size(ptr) - before < 64 * 1024, `${heap.size(ptr) - before} bytes left`);

  heap.setLimit(ptr, heap.size(ptr) + MiB);
  t.false(heap.takeRefusal(ptr));
  t.is(eval_(`const keep = []; for (;;) keep.push('s' + keep.length);`), 'error: out of memory');
  t.true(heap.takeRefusal(ptr));
  heap.setLimit(ptr, NO_LIMIT);
  ctx.dispose();
  rt.dispose();
});

test('a runtime of another layout is refused rather than written to', async (t) => {
  const { rt, ctx, ptr, heap } = await runtime();
  heap.install(ptr, 0);
  // Installed once, its counts no longer look like a fresh runtime's.
  ctx.unwrapResult(ctx.evalCode(`globalThis.x = new Array(1000).fill('y'); 1`)).dispose();
  t.throws(() => heap.install(ptr, 0), { message: /layout/ });
  ctx.dispose();
  rt.dispose();
});
