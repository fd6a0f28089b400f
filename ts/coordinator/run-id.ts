/**
 * Run ids: `<name-slug>-<yyyymmddThhmmssZ>-<4 hex>`. Readable in a URL and a file
 * name, sortable by time within a plan name, unique without coordination, and
 * checked strictly wherever one comes from outside, since it becomes a path.
 */
import { randomBytes } from 'node:crypto';

const SLUG_MAX = 40;
const RUN_ID = /^([a-z0-9]+(?:-[a-z0-9]+)*)-(\d{8}T\d{6}Z)-([0-9a-f]{4})$/;

/** A new run id for a plan name, stamped with `now`. */
export function newRunId(name: string, now: Date = new Date()): string {
  const slug =
    name
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .slice(0, SLUG_MAX)
      .replace(/^-+|-+$/g, '') || 'run';
  const stamp = now
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '');
  return `${slug}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** True for a well-formed run id (and so a safe file name); false for anything else, `../x` included. */
export function isValidRunId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= SLUG_MAX + 24 && RUN_ID.test(value);
}

/** When the run with this id started (to the second), or null when it is no run id. */
export function runIdTime(runId: string): Date | null {
  const m = RUN_ID.exec(runId);
  if (!m) return null;
  const s = m[2]!;
  return new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`);
}
