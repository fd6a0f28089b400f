/**
 * types/stressgrid-script.d.ts declares every function a script can call, so an
 * editor completes the whole API, and the examples compile as devices compile them.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { checkScript } from '../../ts/shared/script/check.js';
import { DEVICE_API } from '../../ts/shared/script/script-source.js';

const ROOT = new URL('../../../', import.meta.url);

test('the declarations name every device function and every global of the API', async (t) => {
  const declarations = await readFile(new URL('types/stressgrid-script.d.ts', ROOT), 'utf8');
  for (const name of [...DEVICE_API, 'incCounter', 'json', 'randomBits', 'randomBytes']) {
    t.regex(declarations, new RegExp(`declare function ${name}\\(`), name);
  }
  for (const name of ['base64', 'hex', 'text', 'crypto', 'params']) t.regex(declarations, new RegExp(`declare const ${name}\\b`), name);
});

for (const example of ['elasticsearch', 'pusher', 'websocket-echo', 'redis', 'dns']) {
  test(`examples/${example}.js compiles`, async (t) => {
    t.is(await checkScript(await readFile(new URL(`examples/${example}.js`, ROOT), 'utf8')), null);
  });
}
