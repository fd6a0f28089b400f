import test from 'ava';
import { readFile } from 'node:fs/promises';
import { checkScript } from '../../ts/shared/script/check.js';

test('the quick-start example examples/http-get.js compiles as devices compile it', async (t) => {
  const source = await readFile(new URL('../../../examples/http-get.js', import.meta.url), 'utf8');
  t.is(await checkScript(source), null);
  t.regex(source, /await get\(path\)/);
});
