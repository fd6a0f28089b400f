import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder named after `purpose`, removed when the test ends. */
export async function tempDir(t: { teardown: (fn: () => Promise<void>) => void }, purpose = 'test'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sg-${purpose}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
