/**
 * Dependencies point down: ts/shared is imported by every side and imports none;
 * the generator does not import the coordinator or the CLI; no module imports
 * itself back through others (type-only imports included). Read from the import
 * statements of ts/, so a new file is held to it at once.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

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
    graph.set(file, [...new Set(targets)].filter((target) => graph.has(target) || sources('ts').includes(target)));
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

test('the coordinator takes nothing from the generator but the script compile check and, for sgcli, the embedded generator', (t) => {
  const allowed = new Set(['ts/coordinator/coordinator.ts → ts/generator/sandbox/check.ts', 'ts/coordinator/embedded.ts → ts/generator/generator.ts']);
  const found = [...importGraph()].flatMap(([file, targets]) => (area(file) === 'coordinator' ? targets.filter((target) => area(target) === 'generator').map((target) => `${file} → ${target}`) : []));
  t.deepEqual(found.filter((edge) => !allowed.has(edge)), []);
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
