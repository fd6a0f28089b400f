#!/usr/bin/env node
// Builds the native addons with cargo (through @napi-rs/cli when it is installed).
//   node scripts/build-native.mjs             -> crates/<crate>/build/Release/<binary>.node
//   node scripts/build-native.mjs --prebuild  -> crates/<crate>/prebuilds/<platform>-<arch>/<binary>.napi[.glibc|.musl].node
// node-gyp-build loads the prebuild when one matches, else build/Release.
//   --features <crate>/<feature>[,...]  cargo features, each named by its crate's folder
//                                       (e.g. netio/thread-wake); the default build has none.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { addons, root } from './native-addons.mjs';

const prebuild = process.argv.includes('--prebuild');
const require = createRequire(import.meta.url);

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function napiCli() {
  try {
    return require.resolve('@napi-rs/cli/package.json') && join(root, 'node_modules', '.bin', 'napi');
  } catch {
    return null;
  }
}

function libc() {
  if (process.platform !== 'linux') return '';
  const report = process.report?.getReport?.();
  return report?.header?.glibcVersionRuntime ? '.glibc' : '.musl';
}

const features = process.argv.flatMap((arg, i, all) => (all[i - 1] === '--features' ? arg.split(',') : []));
/** `--features` arguments for one addon's cargo build. */
function featureArgs(addon) {
  const own = features.filter((f) => f.startsWith(`${addon.crate}/`)).map((f) => f.slice(addon.crate.length + 1));
  return own.length > 0 ? ['--features', own.join(',')] : [];
}

const cli = napiCli();
for (const addon of addons) {
  const out = join(addon.dir, 'build', 'Release');
  mkdirSync(out, { recursive: true });
  const built = join(out, `${addon.binary}.node`);
  if (cli && existsSync(cli)) {
    run(cli, ['build', '--release', '--manifest-path', join(addon.dir, 'Cargo.toml'), '--package-json-path', join(addon.dir, 'package.json'), '--output-dir', out, ...featureArgs(addon)], root);
  } else {
    // A packed install has no devDependencies: plain cargo produces the same library.
    run('cargo', ['build', '--release', '--manifest-path', join(addon.dir, 'Cargo.toml'), ...featureArgs(addon)], root);
    const lib = { darwin: `lib${addon.lib}.dylib`, win32: `${addon.lib}.dll` }[process.platform] ?? `lib${addon.lib}.so`;
    copyFileSync(join(root, 'target', 'release', lib), built);
  }
  if (prebuild) {
    const dir = join(addon.dir, 'prebuilds', `${process.platform}-${process.arch}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    copyFileSync(built, join(dir, `${addon.binary}.napi${libc()}.node`));
    console.log(`prebuild: ${join(dir, `${addon.binary}.napi${libc()}.node`)}`);
  }
}
