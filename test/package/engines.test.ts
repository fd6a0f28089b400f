// What `engines` promises must install cleanly: every dependency a user gets
// (package-lock.json, dev ones aside) must accept every Node version we claim,
// and CI must run the suite on each Node line the README and `engines` name.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

interface LockEntry {
  version?: string;
  dev?: boolean;
  engines?: { node?: string } | string[];
}
const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockEntry> };
const claimed = pkg.engines.node;

/** The Node lines CI runs the suite on: `.ci/run`'s `node_versions=(…)`. */
function ciNodeLines(): string[] {
  const m = /^node_versions=\(([^)]*)\)/m.exec(read('.ci/run'));
  if (m === null) throw new Error('.ci/run has no node_versions=(…)');
  return m[1]!.trim().split(/\s+/);
}

/** The major lines `engines` claims, each `^N`. */
function claimedLines(range: string): string[] {
  return range.split('||').map((part) => {
    const m = /^\s*\^(\d+)\s*$/.exec(part);
    if (m === null) throw new Error(`engines.node part "${part}" is not a ^major line`);
    return m[1]!;
  });
}

test('every dependency a user installs accepts every Node version `engines` claims', (t) => {
  const excluding: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev === true || Array.isArray(entry.engines)) continue;
    const theirs = entry.engines?.node;
    if (theirs === undefined) continue;
    if (!semver.subset(claimed, theirs, { includePrerelease: false })) excluding.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} needs node ${theirs}`);
  }
  t.deepEqual(excluding, [], `engines.node is "${claimed}"`);
});

test('the check above catches a dependency that leaves a claimed Node line', (t) => {
  t.false(semver.subset(claimed, '>=24'));
  t.false(semver.subset('^20 || ^22 || ^24', '>=22'), 'cookie 2 (>=22) excludes Node 20');
  t.true(semver.subset(claimed, '>=20.18.1'));
});

test('CI runs the suite on exactly the Node lines `engines` and the README claim', (t) => {
  const lines = claimedLines(claimed);
  t.deepEqual(ciNodeLines(), lines);
  const requirement = /^- Node\.js ([^\n]*)$/m.exec(read('README.md'))?.[1] ?? '';
  t.true(requirement.includes(`\`${claimed}\``), `the README's requirement quotes engines: ${requirement}`);
  t.is(requirement.slice(0, requirement.indexOf('(')).trim(), lines.join(' or '), 'the README names each line');
});
