/**
 * The CPU limit charges a device its own CPU: pinned to one CPU beside two
 * spinning processes, a device whose work takes about 70 % of its limit in CPU (and
 * about three times that in wall time) finishes; a runaway loop still ends with
 * cpu_limit after about its limit of CPU.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./cpu-limit-child.js', import.meta.url));

interface Timed {
  code: string;
  wallMs: number;
  cpuMs: number;
}

test('a device is charged its own CPU, not the time other processes had the CPU; a runaway still ends at its limit', (t) => {
  const cpu = String(spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim() === '1' ? 0 : 1);
  const child = spawnSync('taskset', ['-c', cpu, process.execPath, CHILD, '300', '220', '2'], { encoding: 'utf8', timeout: 60_000 });
  t.is(child.status, 0, child.stderr);
  const { calibrated, shared, runaway } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<'calibrated' | 'shared' | 'runaway', Timed>;
  t.log(JSON.stringify({ calibrated, shared, runaway }));
  t.is(calibrated.code, 'ok');
  // The same work beside two spinners: far past the limit in wall time, under it in CPU.
  t.true(shared.wallMs > 300, `the shared run took ${shared.wallMs.toFixed(0)} ms of wall time: the spinners did share the CPU`);
  t.is(shared.code, 'ok', `cut off after ${shared.cpuMs.toFixed(0)} ms of CPU, ${shared.wallMs.toFixed(0)} ms of wall time`);
  t.is(runaway.code, 'cpu_limit');
  // The kernel's per-thread CPU count is a few ms coarse either way.
  t.true(runaway.cpuMs >= 270 && runaway.cpuMs < 600, `the runaway had ${runaway.cpuMs.toFixed(0)} ms of CPU`);
});
