/**
 * The README shows what a user copies and reads, so it must not drift from
 * the code: a script it shows as an examples/ file is that file byte for byte,
 * the seed's four examples are all shown whole, and the list of built-in
 * metrics names every metric ts/shared/metrics.ts defines.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { METRIC } from '../../ts/shared/metrics.js';

const ROOT = new URL('../../../', import.meta.url);
const readme = (): Promise<string> => readFile(new URL('README.md', ROOT), 'utf8');

/** Code blocks introduced as a file: a line "[`examples/x.js`](examples/x.js):", a blank line, then the block. */
const SHOWN_FILE = /\[`(examples\/[\w-]+\.js)`\]\(\1\):\n\n```js\n([\s\S]*?)```\n/g;

/** The section that starts at `heading` and ends at the next heading of its level or higher. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}"`);
  const level = /^#+/.exec(heading)![0];
  const next = text.slice(start + heading.length + 2).search(new RegExp(`^#{1,${level.length}} `, 'm'));
  return next < 0 ? text.slice(start) : text.slice(start, start + heading.length + 2 + next);
}

test('every script the README shows as an examples/ file is that file, and the seed four are shown', async (t) => {
  const shown = new Map<string, string>();
  for (const [, path, code] of (await readme()).matchAll(SHOWN_FILE)) shown.set(path!, code!);
  for (const path of ['examples/elasticsearch.js', 'examples/pusher.js', 'examples/redis.js', 'examples/dns.js']) {
    t.true(shown.has(path), `the README shows ${path}`);
  }
  for (const [path, code] of shown) t.is(code, await readFile(new URL(path, ROOT), 'utf8'), `${path} as the README shows it`);
});

test("the README's Metrics and reports section names every built-in metric", async (t) => {
  const metrics = section(await readme(), '## Metrics and reports');
  for (const name of Object.values(METRIC)) t.true(metrics.includes(`\`${name}`), `${name} is listed`);
});
