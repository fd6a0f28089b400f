/**
 * Dependencies point down: ts/shared is imported by every side and imports none;
 * the generator does not import the coordinator or the CLI; the coordinator
 * program never loads the generator's code (only sgcli's embedded generator is
 * the generator's); no module imports itself back through others (type-only
 * imports included). Read from the import statements of ts/, so a new file is
 * held to it at once, and, for the coordinator program, from the modules a
 * running one loads.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { postJson, json } from '../support/api-client.js';
import { startCoordinatorProgram } from '../support/coordinator-program.js';
import { killAllPrograms } from '../support/program-process.js';
import type { PlanChecked } from '../../ts/coordinator/api-messages.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** file → the ts/ files it imports (static, dynamic and type-only). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources('ts')) {
    const code = readFileSync(join(root, file), 'utf8');
    const targets = [...code.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)].map((m) => normalize(join(dirname(file), `${m[1]}.ts`)));
    graph.set(
      file,
      [...new Set(targets)].filter((target) => graph.has(target) || sources('ts').includes(target)),
    );
  }
  return graph;
}

const area = (file: string): string => relative('ts', file).split('/')[0]!;

test('ts/shared imports nothing from the programs; the generator nothing from the coordinator or the CLI', (t) => {
  const wrong: string[] = [];
  for (const [file, targets] of importGraph()) {
    for (const target of targets) {
      const from = area(file);
      const to = area(target);
      if (from === 'shared' && to !== 'shared') wrong.push(`${file} → ${target}`);
      if (from === 'generator' && (to === 'coordinator' || to === 'cli')) wrong.push(`${file} → ${target}`);
    }
  }
  t.deepEqual(wrong, []);
});

test('the coordinator takes nothing from the generator but, for sgcli, the embedded generator', (t) => {
  const allowed = new Set(['ts/coordinator/embedded.ts → ts/generator/generator.ts']);
  const found = [...importGraph()].flatMap(([file, targets]) => (area(file) === 'coordinator' ? targets.filter((target) => area(target) === 'generator').map((target) => `${file} → ${target}`) : []));
  t.deepEqual(
    found.filter((edge) => !allowed.has(edge)),
    [],
  );
});

test("nothing stressgrid-coordinator imports, directly or through others, is the generator's", (t) => {
  const graph = importGraph();
  const reached = new Set<string>();
  const visit = (file: string): void => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const next of graph.get(file) ?? []) visit(next);
  };
  visit('ts/coordinator/main.ts');
  t.true(reached.has('ts/shared/script/check.ts'), 'the walk reaches the script compile check');
  t.deepEqual(
    [...reached].filter((file) => area(file) === 'generator'),
    [],
  );
});

test.after.always(() => killAllPrograms());

test('a running stressgrid-coordinator that checks a script has loaded no module of the generator', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sg-imports-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const loaded = join(dir, 'loaded.txt');
  // A resolve hook (on the loader thread) writes down every module the program loads.
  await writeFile(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(${JSON.stringify(loaded)}, resolved.url + '\\n');
  return resolved;
}`,
  );
  await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
  const coordinator = startCoordinatorProgram({ dataDir: join(dir, 'data'), env: { NODE_OPTIONS: `--import=${pathToFileURL(join(dir, 'register.mjs')).href}` } });
  const { api } = await coordinator.listening();
  const checked = await json<PlanChecked>(
    await postJson(`${api}/api/plans/check`, {
      name: 'imports',
      blocks: [{ script: 'await get("/");\nconst x = ;\n' }],
      addresses: [{ host: '127.0.0.1', port: 80, protocol: 'http' }],
      size: 1,
      rampup: 0,
      sustain: 1,
      rampdown: 0,
    }),
  );
  t.is(checked.problems.find((p) => p.path === 'blocks[0].script')?.line, 2, 'the script was compiled');
  coordinator.kill();
  await coordinator.exited;
  const dist = pathToFileURL(join(root, 'dist', 'ts')).href;
  const ours = [...new Set((await readFile(loaded, 'utf8')).split('\n'))].filter((url) => url.startsWith(`${dist}/`)).map((url) => url.slice(dist.length + 1));
  t.true(ours.includes('shared/script/check.js'), 'the hook saw the compile check load');
  t.deepEqual(
    ours.filter((file) => file.startsWith('generator/')),
    [],
  );
});

test('no import circle, type-only imports included', (t) => {
  const graph = importGraph();
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') circles.push([...path.slice(path.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  t.deepEqual(circles, []);
});
