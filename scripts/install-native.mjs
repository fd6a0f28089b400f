#!/usr/bin/env node
// npm's install step: use a prebuilt addon when one matches this platform, and
// build from source with cargo only when none does.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { addons, root } from './native-addons.mjs';

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build');

const missing = addons.filter((addon) => {
  try {
    nodeGypBuild.path(addon.dir);
    return false;
  } catch {
    return true;
  }
});
if (missing.length === 0) process.exit(0);

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
if (cargo.error || cargo.status !== 0) {
  console.error(
    `stressgrid: no prebuilt native addon for ${process.platform}-${process.arch} (${missing.map((a) => a.crate).join(', ')}) ` +
      'and no cargo on PATH: install Rust (https://rustup.rs) and run `npm rebuild stressgrid`.',
  );
  process.exit(1);
}
console.log(`stressgrid: building ${missing.map((a) => a.crate).join(', ')} from source with ${cargo.stdout.trim()}`);
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
process.exit(r.status ?? 1);
