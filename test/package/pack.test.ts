// The npm tarball is what users install: it must carry the prebuilt addon and
// load on a machine with no Rust toolchain, and say what to do when the addon is gone.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'stressgrid-pack-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

// No cargo, no rustup: only where node and npm live.
const noCargoPath = [dirname(process.execPath), '/usr/bin', '/bin'].join(':');

let packed: string | undefined;
/** `npm pack` once for every test here: it runs the prebuild and the TypeScript build. */
function packedTarball(): string {
  if (packed !== undefined) return packed;
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  packed = join(work, out.trim().split('\n').pop()!);
  return packed;
}

test.serial('npm pack carries a prebuild that loads without cargo on PATH', (t) => {
  const tarball = packedTarball();
  const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
  t.regex(listing, new RegExp(`package/crates/hdr-native/prebuilds/${process.platform}-${process.arch}/stressgrid-hdr\\.napi(\\.glibc|\\.musl)?\\.node`));
  t.regex(listing, new RegExp(`package/crates/netio/prebuilds/${process.platform}-${process.arch}/stressgrid-netio\\.napi(\\.glibc|\\.musl)?\\.node`));
  t.regex(listing, /package\/dist\/ts\/hdr\/index\.js/);
  t.notRegex(listing, /package\/target\//);
  // The coordinator serves the website from the package's web/.
  t.regex(listing, /package\/web\/index\.html/);
  t.regex(listing, /package\/web\/app\.js/);

  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, PATH: noCargoPath },
  });
  t.is(install.status, 0, install.stderr);
  t.is(spawnSync('cargo', ['--version'], { env: { PATH: noCargoPath } }).error !== undefined, true, 'cargo must not be reachable');

  const script = "import { Histogram } from 'stressgrid/hdr'; const h = new Histogram(); h.recordMany([1, 2, 3]); console.log(Histogram.decode(h.encode()).totalCount);";
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8', env: { PATH: noCargoPath } });
  t.is(run.stderr, '');
  t.is(run.stdout.trim(), '3');

  // Without the addon the import fails with one line that says what to run.
  const prebuilds = join(app, 'node_modules', 'stressgrid', 'crates', 'hdr-native', 'prebuilds');
  t.true(readdirSync(prebuilds).length > 0);
  rmSync(prebuilds, { recursive: true });
  const broken = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8', env: { PATH: noCargoPath } });
  t.not(broken.status, 0);
  t.regex(broken.stderr, /stressgrid: the native HDR histogram addon is missing or broken \(.*\); run `npm run build:native` \(needs cargo\) or reinstall stressgrid/);
});

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; bin: Record<string, string> };

test.serial("the README's global install line, run as written, installs quietly: no install script, every program on PATH", (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const line = /^npm install -g \.\/(stressgrid-[\d.]+\.tgz)\b.*$/m.exec(readme);
  if (line === null) return t.fail('the README shows `npm install -g ./stressgrid-<version>.tgz`');
  const tarball = packedTarball();
  t.is(line[1], basename(tarball), 'the README names the tarball `npm pack` makes');
  const listing = execFileSync('tar', ['xzf', tarball, '-O', 'package/package.json'], { encoding: 'utf8' });
  const scripts = (JSON.parse(listing) as { scripts: Record<string, string> }).scripts;
  for (const name of ['preinstall', 'install', 'postinstall', 'prepare']) t.false(name in scripts, `the packed package.json has no ${name} script`);
  t.true('prepare' in (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: object }).scripts, 'the clone keeps its prepare script');

  const prefix = join(work, 'global');
  const install = spawnSync('sh', ['-c', line[0]], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, PATH: noCargoPath, NPM_CONFIG_PREFIX: prefix, npm_config_prefix: prefix },
  });
  t.is(install.status, 0, install.stderr);
  const warnings = install.stderr.split('\n').filter((l) => /^npm (warn|error)/.test(l));
  if (semver.satisfies(process.version, pkg.engines.node)) {
    t.deepEqual(warnings, [], 'npm says nothing on a Node version the package claims');
  } else {
    // On an older Node only the engine mismatch may be reported.
    t.deepEqual(
      warnings.filter((l) => !l.includes('EBADENGINE')),
      [],
    );
  }
  for (const program of Object.keys(pkg.bin)) {
    const run = spawnSync(join(prefix, 'bin', program), ['--help'], { encoding: 'utf8', env: { PATH: noCargoPath } });
    t.is(run.status, 0, `${program} --help: ${run.stderr}`);
    t.regex(run.stdout, /Usage|usage/, `${program} --help`);
  }
});
