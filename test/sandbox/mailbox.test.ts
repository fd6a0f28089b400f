/**
 * The mailbox contract between guest and host (mailbox.ts): the guest prelude
 * takes its constants from there, every device-bound function of DEVICE_API has
 * its maker in the prelude, and each name reaches the function it names.
 */
import test from 'ava';
import { GUEST_CONSTANTS } from '../../ts/generator/sandbox/guest/constants.js';
import { guestPrelude } from '../../ts/generator/sandbox/guest/prelude.js';
import { GUEST_PRELUDE } from '../../ts/generator/sandbox/guest-prelude.js';
import { MESSAGE_AS, METRIC_KEY, OPERATION, OUTBOX } from '../../ts/generator/sandbox/mailbox.js';
import { DEVICE_API } from '../../ts/shared/script/script-source.js';
import { evaluate } from './fakes.js';

test('every name of DEVICE_API has a maker in the guest prelude, and there is no other', (t) => {
  const source = guestPrelude.toString();
  const block = /\n( *)const MAKER = \{\n([\s\S]*?)\n\1\};\n/.exec(source);
  t.truthy(block, 'the prelude has its MAKER table');
  const makers = [...block![2]!.matchAll(/^ +(\w+): \(st\) =>/gm)].map((m) => m[1]!);
  t.deepEqual([...makers].sort(), [...DEVICE_API].sort());
  t.deepEqual(GUEST_CONSTANTS.deviceApi, DEVICE_API);
  t.true(source.includes('const MAKERS = C.deviceApi.map((name) => MAKER[name]);'), 'the wrapper takes them in DEVICE_API order');
  t.true(GUEST_PRELUDE.includes(JSON.stringify(GUEST_CONSTANTS)), 'the constants cross as they are');
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
  t.deepEqual(GUEST_CONSTANTS.operation, OPERATION);
  t.deepEqual(GUEST_CONSTANTS.outbox, OUTBOX);
  t.deepEqual(GUEST_CONSTANTS.messageAs, MESSAGE_AS);
  // Operations are queued by the constants' names, never by a literal tag.
  const source = guestPrelude.toString();
  t.true([...source.matchAll(/\bop(?:Json)?\(st, /g)].length > 10);
  t.deepEqual([...source.matchAll(/\bop(?:Json)?\(st, ['"`]/g)], []);
});

test("the guest checks metric keys with the host's pattern", (t) => {
  t.is(new RegExp(GUEST_CONSTANTS.metricKey.source, GUEST_CONSTANTS.metricKey.flags).toString(), METRIC_KEY.toString());
  t.true(guestPrelude.toString().includes('const KEY = new RegExp(C.metricKey.source, C.metricKey.flags);'));
});
