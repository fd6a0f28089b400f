import test from 'ava';
import { apportion, effectiveDevices, phaseAt, planSchedule, rampStep, targetDevicesAt, type StartAction, type StopAction } from '../../ts/coordinator/ramp.js';
import { BLOCK_LIMIT_DEFAULTS, type ResolvedPlan } from '../../ts/shared/plan.js';

function plan(overrides: Partial<ResolvedPlan> & { blockSizes?: number[]; addressCount?: number } = {}): ResolvedPlan {
  const { blockSizes = [1], addressCount = 1, ...rest } = overrides;
  return {
    name: 'ramp',
    blocks: blockSizes.map((size, i) => ({ script: `// block ${i}`, params: {}, size, limits: { ...BLOCK_LIMIT_DEFAULTS } })),
    addresses: Array.from({ length: addressCount }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 80, protocol: 'http' as const, verifyTls: false })),
    size: 100,
    rampup: 10,
    sustain: 30,
    rampdown: 10,
    ...rest,
  };
}

/** mulberry32: a small seeded generator so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

test('the ramp step is 10 devices per generator', (t) => {
  t.is(rampStep(1), 10);
  t.is(rampStep(7), 70);
});

test('effective devices round down to whole steps and say so', (t) => {
  t.deepEqual(effectiveDevices(100, 2), { devices: 100, step: 20, message: null });
  const rounded = effectiveDevices(105, 2);
  t.is(rounded.devices, 100);
  t.is(rounded.message, '105 desired devices rounded down to 100, a multiple of the ramp step of 20 (2 generators × 10 devices)');
  const none = effectiveDevices(25, 3);
  t.is(none.devices, 0);
  t.regex(none.message!, /fewer than one ramp step of 30.*no device would run/);
  const noGenerators = effectiveDevices(100, 0);
  t.is(noGenerators.devices, 0);
  t.regex(noGenerators.message!, /no generator is connected/);
});

test('apportion keeps the total exactly and rounds each quota down or up', (t) => {
  t.deepEqual(apportion(10, [1, 1, 1]), [4, 3, 3]);
  t.deepEqual(apportion(100, [1, 2, 3]), [17, 33, 50]);
  t.deepEqual(apportion(7, [0, 5]), [0, 7]);
  t.deepEqual(apportion(0, [1, 2]), [0, 0]);
  const next = random(7);
  for (let n = 0; n < 500; n++) {
    const weights = Array.from({ length: 1 + Math.floor(next() * 6) }, () => Math.floor(next() * 1000));
    const total = Math.floor(next() * 1e6);
    const shares = apportion(total, weights);
    const weightSum = sum(weights);
    t.is(sum(shares), weightSum === 0 ? 0 : total);
    if (weightSum === 0) continue;
    weights.forEach((w, i) => {
      const quota = (total * w) / weightSum;
      t.true(shares[i]! >= Math.floor(quota) - 1e-6 && shares[i]! <= Math.ceil(quota) + 1e-6);
    });
  }
});

test('a simple ramp: steps spread over ramp-up, removed last-first over ramp-down', (t) => {
  const schedule = planSchedule(plan({ size: 40, rampup: 8, sustain: 10, rampdown: 4 }), ['g1', 'g2']);
  t.is(schedule.effective.devices, 40);
  t.is(schedule.duration, 22);
  const summary = schedule.actions.map((a) => (a.kind === 'end' || a.kind === 'arrivals' ? `${a.at} ${a.kind}` : `${a.at} ${a.kind} ${a.cohortId}@${a.generatorId}`));
  t.deepEqual(summary, ['0 start 0@g1', '0 start 1@g2', '4 start 2@g1', '4 start 3@g2', '18 stop 3@g2', '18 stop 2@g1', '20 stop 1@g2', '20 stop 0@g1', '22 end']);
});

test('with ramp-up and ramp-down 0 everything starts at once and stops at the end', (t) => {
  const schedule = planSchedule(plan({ size: 30, rampup: 0, sustain: 5, rampdown: 0 }), ['a']);
  t.deepEqual(
    schedule.actions.map((a) => [a.at, a.kind]),
    [
      [0, 'start'],
      [0, 'start'],
      [0, 'start'],
      [5, 'stop'],
      [5, 'stop'],
      [5, 'stop'],
      [5, 'end'],
    ],
  );
});

test('fewer devices than one step gives no cohorts, only the end', (t) => {
  const schedule = planSchedule(plan({ size: 15, rampup: 1, sustain: 1, rampdown: 1 }), ['a', 'b']);
  t.is(schedule.effective.devices, 0);
  t.deepEqual(schedule.actions, [{ at: 3, kind: 'end' }]);
});

test('block shares over the run are exact even when a step does not divide them', (t) => {
  const schedule = planSchedule(plan({ size: 30, blockSizes: [1, 1, 1, 1, 1, 1, 1] }), ['g1', 'g2', 'g3']);
  const starts = schedule.actions.filter((a): a is StartAction => a.kind === 'start');
  const perBlock = [0, 1, 2, 3, 4, 5, 6].map((i) => sum(starts.map((s) => s.devices[i]!)));
  t.deepEqual(perBlock, apportion(30, [1, 1, 1, 1, 1, 1, 1]));
  t.deepEqual(perBlock, [5, 5, 4, 4, 4, 4, 4]);
  t.true(starts.every((s) => sum(s.devices) === 10));
});

test('address offsets continue round-robin across cohorts', (t) => {
  const schedule = planSchedule(plan({ size: 60, addressCount: 3 }), ['g1', 'g2']);
  const starts = schedule.actions.filter((a): a is StartAction => a.kind === 'start');
  t.deepEqual(
    starts.map((s) => s.addressOffset),
    [0, 1, 2, 0, 1, 2],
  );
  const taken = [0, 0, 0];
  for (const s of starts) for (let n = 0; n < sum(s.devices); n++) taken[(s.addressOffset + n) % 3]! += 1;
  t.deepEqual(taken, [20, 20, 20]);
});

test('target devices follow the schedule', (t) => {
  const schedule = planSchedule(plan({ size: 40, rampup: 8, sustain: 10, rampdown: 4 }), ['g1', 'g2']);
  t.is(targetDevicesAt(schedule, 0), 20);
  t.is(targetDevicesAt(schedule, 3.9), 20);
  t.is(targetDevicesAt(schedule, 4), 40);
  t.is(targetDevicesAt(schedule, 17.9), 40);
  t.is(targetDevicesAt(schedule, 18), 20);
  t.is(targetDevicesAt(schedule, 20), 0);
  t.is(targetDevicesAt(schedule, 25), 0);
  t.is(phaseAt({ rampup: 8, sustain: 10, rampdown: 4 }, 0), 'rampup');
  t.is(phaseAt({ rampup: 8, sustain: 10, rampdown: 4 }, 8), 'sustain');
  t.is(phaseAt({ rampup: 8, sustain: 10, rampdown: 4 }, 18), 'rampdown');
  t.is(phaseAt({ rampup: 8, sustain: 10, rampdown: 4 }, 22), 'done');
  t.is(phaseAt({ rampup: 0, sustain: 5, rampdown: 0 }, 0), 'sustain');
});

test('property: for many random plans no device is lost and every cohort stops once, last first', (t) => {
  const next = random(20260101);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  for (let n = 0; n < 400; n++) {
    const generatorIds = Array.from({ length: int(1, 9) }, (_, i) => `gen-${i}`);
    const blockSizes = Array.from({ length: int(1, 6) }, () => int(1, 50));
    const p = plan({
      size: int(1, 3000),
      blockSizes,
      addressCount: int(1, 7),
      rampup: next() < 0.2 ? 0 : int(1, 600),
      sustain: int(0, 600),
      rampdown: next() < 0.2 ? 0 : next() * 300,
    });
    const label = JSON.stringify({ n, size: p.size, blockSizes, generators: generatorIds.length });
    const { actions, effective, duration } = planSchedule(p, generatorIds);
    const step = 10 * generatorIds.length;
    t.is(effective.devices, Math.floor(p.size / step) * step, label);

    const starts = actions.filter((a): a is StartAction => a.kind === 'start');
    const stops = actions.filter((a): a is StopAction => a.kind === 'stop');
    const ends = actions.filter((a) => a.kind === 'end');

    t.is(sum(starts.map((s) => sum(s.devices))), effective.devices, label);
    t.true(
      starts.every((s) => sum(s.devices) === 10 && s.devices.length === blockSizes.length && s.devices.every((d) => d >= 0)),
      label,
    );
    const perBlock = blockSizes.map((_, i) => sum(starts.map((s) => s.devices[i]!)));
    t.deepEqual(perBlock, apportion(effective.devices, blockSizes), label);

    const steps = effective.devices / step;
    t.is(starts.length, steps * generatorIds.length, label);
    for (let k = 0; k < steps; k++) {
      const cohort = starts.slice(k * generatorIds.length, (k + 1) * generatorIds.length);
      t.deepEqual(
        cohort.map((s) => s.generatorId),
        generatorIds,
        label,
      );
      t.true(
        cohort.every((s) => Math.abs(s.at - (k * p.rampup) / steps) < 1e-9),
        label,
      );
    }
    t.deepEqual(new Set(starts.map((s) => s.cohortId)).size, starts.length, label);
    starts.forEach((s, i) => t.is(s.addressOffset, (i * 10) % p.addresses.length, label));

    t.deepEqual(
      stops.map((s) => s.cohortId).sort((a, b) => a - b),
      starts.map((s) => s.cohortId),
      label,
    );
    t.deepEqual(
      stops.map((s) => s.cohortId),
      starts.map((s) => s.cohortId).reverse(),
      label,
    );
    const byId = new Map(starts.map((s) => [s.cohortId, s]));
    t.true(
      stops.every((s) => byId.get(s.cohortId)!.generatorId === s.generatorId && s.at >= p.rampup + p.sustain - 1e-9),
      label,
    );

    t.is(ends.length, 1, label);
    t.is(actions.at(-1)!.kind, 'end', label);
    t.is(duration, p.rampup + p.sustain + p.rampdown, label);
    t.true(
      actions.every((a, i) => i === 0 || actions[i - 1]!.at <= a.at + 1e-9),
      label,
    );
    t.true(
      actions.every((a) => a.at <= duration + 1e-9),
      label,
    );
  }
});
