import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOCK_LIMIT_DEFAULTS, type ResolvedPlan } from '../../ts/shared/plan.js';

/** A valid resolved plan for tests that only need one to carry around. */
export function testPlan(overrides: Partial<ResolvedPlan> = {}): ResolvedPlan {
  return {
    name: 'test plan',
    blocks: [{ script: 'await get("/")', params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS } }],
    addresses: [{ host: '127.0.0.1', port: 80, protocol: 'http', verifyTls: false }],
    size: 10,
    rampup: 0,
    sustain: 60,
    rampdown: 0,
    ...overrides,
  };
}

/** A fresh temporary folder, removed when the test ends. */
export async function tempDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-coordinator-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
