// The npm tarball is what users install: it must carry the prebuilt addon and
// load on a machine with no Rust toolchain, and say what to do when the addon is gone.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'stressgrid-pack-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

// No cargo, no rustup: only where node and npm live.
const noCargoPath = [dirname(process.execPath), '/usr/bin', '/bin'].join(':');

test.serial('npm pack carries a prebuild that loads without cargo on PATH', (t) => {
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = join(work, out.trim().split('\n').pop()!);
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
