/**
 * The open model's arithmetic: the rate curve and its inverse, the exact split of
 * a block's iterations over slots, Poisson arrivals, and the plan fields'
 * validation and schedule on the coordinator.
 */
import test from 'ava';
import { ArrivalCurve, SlotSchedule, arrivalStages, defaultMaxDevices, splitEvenly } from '../../ts/shared/arrival-rate.js';
import { validatePlan } from '../../ts/shared/plan-validation.js';
import { planSchedule, runDuration, type ArrivalsAction } from '../../ts/coordinator/ramp.js';
import { checkCoordinatorMessage } from '../../ts/shared/protocol-validation.js';
import { intendedKey, intendedName, isIntendedMetric, METRIC } from '../../ts/shared/metrics.js';
import { BLOCK_LIMIT_DEFAULTS, type ResolvedPlan } from '../../ts/shared/plan.js';

const all = (s: SlotSchedule): number[] => {
  const out: number[] = [];
  for (let t = s.take(); t !== Infinity; t = s.take()) out.push(t);
  return out;
};

test('a constant rate R over T seconds schedules exactly R·T iterations, evenly spaced from 0', (t) => {
  const times = all(
    new SlotSchedule(
      [
        { rate: 500, duration: 0 },
        { rate: 500, duration: 20 },
      ],
      { slot: 0, slots: 1 },
    ),
  );
  t.is(times.length, 10_000);
  t.is(times[0], 0);
  times.forEach((time, k) => t.true(Math.abs(time - k / 500) < 1e-9, `iteration ${k} at ${time}`));
});

test('arrivalRate ramps 0 → rate over rampup, holds, falls back over rampdown; N(t) is its integral', (t) => {
  const stages = arrivalStages({ arrivalRate: 100 }, { rampup: 10, sustain: 20, rampdown: 5 });
  const curve = new ArrivalCurve(stages);
  t.is(curve.duration, 35);
  t.is(curve.total, (100 * 10) / 2 + 100 * 20 + (100 * 5) / 2);
  t.is(curve.countAt(10), 500);
  t.is(curve.countAt(5), 125); // 100/10·5²/2
  t.is(curve.countAt(30), 2500);
  for (const n of [0, 1, 125, 499.5, 500, 1234, 2500, 2700, 2749]) t.true(Math.abs(curve.countAt(curve.timeOf(n)) - n) < 1e-6, `N(timeOf(${n}))`);
  t.is(curve.timeOf(2750), Infinity);
  // r(t), what the live view shows as due: the ramp's slope, the sustain, the ramp-down, 0 outside.
  t.deepEqual(
    [-1, 0, 5, 10, 20, 32.5, 35, 40].map((x) => curve.rateAt(x)),
    [0, 0, 50, 100, 100, 50, 0, 0],
  );
  // Per-second counts in the sustain are the rate, exactly.
  const times = all(new SlotSchedule(stages, { slot: 0, slots: 1 }));
  t.is(times.length, 2750);
  for (let s = 10; s < 30; s++) t.is(times.filter((x) => x >= s && x < s + 1).length, 100, `second ${s}`);
});

test('stages move the rate linearly from where the last ended; a stage of 0 seconds sets it at once', (t) => {
  const curve = new ArrivalCurve([
    { rate: 10, duration: 0 },
    { rate: 10, duration: 2 },
    { rate: 30, duration: 2 },
    { rate: 0, duration: 1 },
  ]);
  t.is(curve.duration, 5);
  t.is(curve.total, 20 + 40 + 15);
  const silent = new ArrivalCurve([
    { rate: 0, duration: 3 },
    { rate: 100, duration: 0 },
    { rate: 100, duration: 1 },
  ]);
  t.is(silent.timeOf(0), 3, 'nothing is due while the rate is 0');
  t.is(silent.total, 100);
});

test('slots split a block exactly: together they are the whole schedule, none lost to rounding', (t) => {
  const stages = arrivalStages({ arrivalRate: 333.3 }, { rampup: 3, sustain: 7, rampdown: 2 });
  const whole = all(new SlotSchedule(stages, { slot: 0, slots: 1 }));
  for (const slots of [2, 3, 7]) {
    const parts = Array.from({ length: slots }, (_, slot) => new SlotSchedule(stages, { slot, slots }));
    t.is(
      parts.reduce((sum, p) => sum + p.scheduledTotal, 0),
      whole.length,
      `${slots} slots`,
    );
    const merged = parts.flatMap(all).sort((a, b) => a - b);
    t.deepEqual(merged, whole, `${slots} slots interleave into the whole`);
  }
});

test('poisson arrivals: the same mean rate, exponential gaps', (t) => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const times = all(
    new SlotSchedule(
      [
        { rate: 1000, duration: 0 },
        { rate: 1000, duration: 20 },
      ],
      { slot: 0, slots: 2 },
      'poisson',
      random,
    ),
  );
  // Rate 1000/2 per slot over 20 s: 10,000 ± a few standard deviations (100).
  t.true(Math.abs(times.length - 10_000) < 400, `${times.length} arrivals`);
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
  t.true(Math.abs(sd / mean - 1) < 0.1, `an exponential's sd equals its mean: ${sd} vs ${mean}`);
});

test('pool and split helpers', (t) => {
  t.deepEqual(splitEvenly(10, 3), [4, 3, 3]);
  t.deepEqual(splitEvenly(2, 4), [1, 1, 0, 0]);
  t.is(defaultMaxDevices([{ rate: 50, duration: 1 }]), 10);
  t.is(defaultMaxDevices([{ rate: 5000, duration: 1 }]), 500);
});

test('_intended twins are named by inserting _intended before the unit', (t) => {
  t.is(intendedName(METRIC.headersUs), 'headers_intended_us');
  t.is(intendedName('page_us'), 'page_intended_us');
  t.is(intendedKey('conn'), 'conn_intended');
  t.true(isIntendedMetric('ws_upgrade_intended_us'));
  t.false(isIntendedMetric('ws_upgrade_us'));
  t.is(METRIC.droppedIterationCount, 'dropped_iteration_count');
});

const base = { name: 'open', addresses: [{ host: 'localhost' }] };

test('a plan without the new fields resolves exactly as before', async (t) => {
  const result = await validatePlan({ ...base, blocks: [{ script: 'await get("/")', size: 2 }] });
  t.true(result.ok);
  if (result.ok) t.deepEqual(result.plan.blocks, [{ script: 'await get("/")', params: {}, size: 2, limits: { ...BLOCK_LIMIT_DEFAULTS } }]);
});

test('an arrival-rate block resolves with its pool and spacing', async (t) => {
  const result = await validatePlan({
    ...base,
    blocks: [
      { script: 'x', arrivalRate: 1000 },
      { script: 'y', stages: [{ rate: 50, duration: 5 }], maxDevices: 3, arrival: 'poisson' },
    ],
  });
  t.true(result.ok, JSON.stringify(result));
  if (!result.ok) return;
  t.deepEqual(result.plan.blocks, [
    { script: 'x', params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS }, arrivalRate: 1000, maxDevices: 100, arrival: 'uniform' },
    { script: 'y', params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS }, stages: [{ rate: 50, duration: 5 }], maxDevices: 3, arrival: 'poisson' },
  ]);
});

test('every problem of the open-model fields is listed with its path', async (t) => {
  const result = await validatePlan({
    ...base,
    sustain: 0,
    blocks: [
      { script: 'a', arrivalRate: -1, maxDevices: 0 },
      { script: 'b', arrivalRate: 10, stages: [{ rate: 1, duration: 1 }] },
      { script: 'c', stages: [{ rate: 'fast', duration: 1 }, { rate: 1 }, { rate: 1, duration: 1, ramp: true }] },
      { script: 'd', maxDevices: 5, arrival: 'bursty' },
      { script: 'e', arrival: 'poisson' },
      { script: 'f', stages: [] },
      { script: 'g', stages: [{ rate: 0, duration: 3 }] },
    ],
  });
  t.false(result.ok);
  if (result.ok) return;
  const paths = result.problems.map((p) => p.path);
  for (const path of [
    'blocks[0].arrivalRate',
    'blocks[0].maxDevices',
    'blocks[1].stages',
    'blocks[2].stages[0].rate',
    'blocks[2].stages[1].duration',
    'blocks[2].stages[2].ramp',
    'blocks[3].maxDevices',
    'blocks[3].arrival',
    'blocks[4].arrival',
    'blocks[5].stages',
    'blocks[6].stages',
    'sustain',
  ])
    t.true(paths.includes(path), `${path} in ${paths.join(', ')}`);
  t.regex(result.problems.find((p) => p.path === 'blocks[4].arrival')!.message, /only to an arrival-rate block/);
});

test('a plan of stages alone lasts as long as its longest block, whatever its ramp', async (t) => {
  const result = await validatePlan({
    ...base,
    sustain: 0,
    blocks: [
      {
        script: 'x',
        stages: [
          { rate: 10, duration: 4 },
          { rate: 10, duration: 3 },
        ],
      },
    ],
  });
  t.true(result.ok);
  if (result.ok) t.is(runDuration(result.plan), 7);
});

function openPlan(blocks: ResolvedPlan['blocks'], addresses = 3): ResolvedPlan {
  return {
    name: 'open',
    blocks,
    addresses: Array.from({ length: addresses }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 80, protocol: 'http' as const, verifyTls: false })),
    size: 20,
    rampup: 2,
    sustain: 10,
    rampdown: 0,
  };
}

test('the coordinator starts each arrival-rate block once per generator, the pool split evenly, and no closed devices for it', (t) => {
  const plan = openPlan([
    { script: 'closed', params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS } },
    { script: 'open', params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS }, arrivalRate: 100, maxDevices: 7, arrival: 'uniform' },
  ]);
  const schedule = planSchedule(plan, ['g1', 'g2', 'g3']);
  const arrivals = schedule.actions.filter((a): a is ArrivalsAction => a.kind === 'arrivals');
  t.deepEqual(
    arrivals.map((a) => [a.generatorId, a.block, a.slot, a.slots, a.maxDevices, a.addressOffset]),
    [
      ['g1', 1, 0, 3, 3, 0],
      ['g2', 1, 1, 3, 2, 0],
      ['g3', 1, 2, 3, 2, 2],
    ],
  );
  t.is(schedule.effective.devices, 0, '20 devices are fewer than a step of 30: the closed block gets none');
  const starts = schedule.actions.filter((a) => a.kind === 'start');
  t.true(starts.every((a) => a.kind === 'start' && a.devices[1] === 0));
  t.is(schedule.duration, 12);
});

test('a pool smaller than the generators uses only as many generators as it has devices', (t) => {
  const plan = openPlan([{ script: 'open', params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS }, arrivalRate: 10, maxDevices: 2, arrival: 'uniform' }]);
  const schedule = planSchedule(plan, ['g1', 'g2', 'g3']);
  const arrivals = schedule.actions.filter((a): a is ArrivalsAction => a.kind === 'arrivals');
  t.deepEqual(
    arrivals.map((a) => [a.generatorId, a.slot, a.slots, a.maxDevices]),
    [
      ['g1', 0, 2, 1],
      ['g2', 1, 2, 1],
    ],
  );
  t.deepEqual(
    schedule.actions.filter((a) => a.kind === 'start'),
    [],
    'a plan of arrival-rate blocks alone has no closed devices',
  );
});

test('start_arrivals and the open-model block fields cross the wire checked', (t) => {
  const ok = checkCoordinatorMessage({ type: 'start_arrivals', runId: 'r', block: 0, slot: 1, slots: 2, maxDevices: 5, addressOffset: 0, startedAt: Date.now() });
  t.true(ok.ok);
  const bad = checkCoordinatorMessage({ type: 'start_arrivals', runId: 'r', block: 0, slot: 2, slots: 2, maxDevices: 5, addressOffset: 0, startedAt: 1 });
  t.false(bad.ok);
  // A generator that rejoined a run under way takes its slot from `from` seconds into the block.
  const resumed = checkCoordinatorMessage({ type: 'start_arrivals', runId: 'r', block: 0, slot: 1, slots: 2, maxDevices: 5, addressOffset: 0, startedAt: 1, from: 7.5 });
  t.true(resumed.ok && resumed.message.type === 'start_arrivals' && resumed.message.from === 7.5);
  t.false(checkCoordinatorMessage({ type: 'start_arrivals', runId: 'r', block: 0, slot: 1, slots: 2, maxDevices: 5, addressOffset: 0, startedAt: 1, from: -1 }).ok);
  const plan = openPlan([{ script: 'open', params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS }, stages: [{ rate: 5, duration: 1 }], maxDevices: 2, arrival: 'poisson' }]);
  const prepared = checkCoordinatorMessage({ type: 'prepare_run', runId: 'r', plan });
  t.true(prepared.ok);
  if (prepared.ok && prepared.message.type === 'prepare_run') t.deepEqual(prepared.message.plan.blocks, plan.blocks);
});
