#!/usr/bin/env node
// The packed package.json carries no install-time scripts. npm 11 runs none for a
// global install unless the user allows them, and warns that they were skipped; the
// tarball needs none, since it carries the prebuilt addons and the compiled
// TypeScript. A clone keeps them: there `npm install` builds the addons and dist/.
//   node scripts/pack-manifest.mjs strip    (prepack: last step, after the builds)
//   node scripts/pack-manifest.mjs restore  (postpack)
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './native-addons.mjs';

/** Scripts npm counts as install scripts for a package installed from a tarball. */
export const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

const manifest = join(root, 'package.json');
const saved = join(root, '.stressgrid', 'package.json.before-pack');

const [command] = process.argv.slice(2);
if (command === 'strip') {
  mkdirSync(join(root, '.stressgrid'), { recursive: true });
  if (!existsSync(saved)) copyFileSync(manifest, saved);
  const pkg = JSON.parse(readFileSync(saved, 'utf8'));
  for (const name of INSTALL_SCRIPTS) delete pkg.scripts[name];
  // Written beside and renamed, so a reader never sees half a file.
  writeFileSync(`${manifest}.tmp`, `${JSON.stringify(pkg, null, 2)}\n`);
  renameSync(`${manifest}.tmp`, manifest);
} else if (command === 'restore') {
  if (existsSync(saved)) {
    copyFileSync(saved, `${manifest}.tmp`);
    renameSync(`${manifest}.tmp`, manifest);
    rmSync(saved);
  }
} else {
  console.error('usage: node scripts/pack-manifest.mjs strip|restore');
  process.exit(2);
}
