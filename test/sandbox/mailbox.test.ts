/**
 * The mailbox contract between guest and host (mailbox.ts): the guest prelude is
 * built from its constants, every device-bound function of DEVICE_API has its
 * maker in the prelude, and each name reaches the function it names.
 */
import test from 'ava';
import { GUEST_PRELUDE } from '../../ts/generator/sandbox/guest-prelude.js';
import { METRIC_KEY, OPERATION, OUTBOX } from '../../ts/generator/sandbox/mailbox.js';
import { DEVICE_API } from '../../ts/shared/script/script-source.js';
import { evaluate } from './fakes.js';

test('every name of DEVICE_API has a maker in the guest prelude, and there is no other', (t) => {
  const block = /\nconst MAKER = \{\n([\s\S]*?)\n\};\n/.exec(GUEST_PRELUDE);
  t.truthy(block, 'the prelude has its MAKER table');
  const makers = [...block![1]!.matchAll(/^ {2}(\w+): \(st\) =>/gm)].map((m) => m[1]!);
  t.deepEqual([...makers].sort(), [...DEVICE_API].sort());
  t.true(GUEST_PRELUDE.includes(`const MAKERS = ${JSON.stringify(DEVICE_API)}.map((name) => MAKER[name]);`), 'the wrapper takes them in DEVICE_API order');
});

test('each device-bound name is bound to the function of that name', async (t) => {
  // A function's arity and its first error say which one it is without touching I/O.
  const result = await evaluate(`
    const out = {};
    for (const [name, f] of Object.entries({ ${DEVICE_API.join(', ')} })) out[name] = typeof f;
    let e; try { await get(''); } catch (err) { e = err.message; }
    let d; try { await delay(-1); } catch (err) { d = err.message; }
    let r; try { await recv(-1); } catch (err) { r = err.message; }
    return { out, e, d, r };`);
  t.deepEqual(result, {
    out: Object.fromEntries(DEVICE_API.map((name) => [name, 'function'])),
    e: 'get: path must be a non-empty string',
    d: 'delay: ms must be a finite number >= 0',
    r: 'recv: timeoutMs must be a finite number >= 0',
  });
});

test('operation and outbox tags are distinct, and the prelude queues operations only by them', (t) => {
  const tags = [...Object.values(OPERATION), ...Object.values(OUTBOX)];
  t.is(new Set(tags).size, tags.length);
  for (const tag of tags) t.false(tag.includes(','), tag);
  const queued = [...GUEST_PRELUDE.matchAll(/\bop(?:Json)?\(st, '([^']*)'(?:, '([^']*)')?/g)].flatMap((m) => m.slice(1).filter((x) => x !== undefined));
  t.true(queued.length > 10);
  const kinds: string[] = Object.values(OPERATION);
  t.deepEqual(
    queued.filter((kind) => !kinds.includes(kind)),
    [],
  );
});

test("the guest checks metric keys with the host's pattern", (t) => {
  t.true(GUEST_PRELUDE.includes(`const KEY = ${METRIC_KEY};`));
});
