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
