/**
 * ts/shared/settings.ts is the one table of settings: the README's table of
 * program settings, deploy/env's files, each program's --help and the code that
 * reads a variable must all agree with it.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_SETTINGS, readSetting, SETTINGS, settingsOf } from '../../ts/shared/settings.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const SERVERS = ['stressgrid-coordinator', 'stressgrid-generator'] as const;

interface Row {
  program: string;
  flag: string | undefined;
  env: string;
  defaultText: string;
}

/** The README's "| program | setting (flag / environment) | default |" table. */
function readmeRows(): Row[] {
  const readme = read('README.md');
  const start = readme.indexOf('| program | setting (flag / environment) | default |');
  if (start < 0) throw new Error('the README has no table of program settings');
  const rows: Row[] = [];
  let program = '';
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [, who, setting, fallback] = line.split('|').map((cell) => cell.trim());
    if (who !== '') program = who!.replace(/`/g, '');
    const flag = /^`(--[\w-]+)` \//.exec(setting!)?.[1];
    // A row may name several variables (credentials that go together); a flag belongs to the first.
    const envs = [...setting!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    if (envs.length === 0) throw new Error(`README settings row without a variable: ${line}`);
    envs.forEach((env, i) => rows.push({ program, flag: i === 0 ? flag : undefined, env, defaultText: fallback!.replace(/`/g, '') }));
  }
  return rows;
}

test("the README's table of program settings lists exactly the table's settings, with their flags and defaults", (t) => {
  const rows = readmeRows();
  for (const program of SERVERS) {
    const shown = rows.filter((row) => row.program === program);
    t.deepEqual(
      shown.map((row) => row.env).sort(),
      settingsOf(program)
        .map((s) => s.env)
        .sort(),
      `${program}: a setting goes in SETTINGS (ts/shared/settings.ts) and in the README's table`,
    );
    for (const row of shown) {
      const setting = ALL_SETTINGS.find((s) => s.env === row.env)!;
      t.is(row.flag, setting.programs[program] === 'flag' ? setting.flag : undefined, `${program} ${row.env}: its flag`);
      t.true(row.defaultText.startsWith(setting.defaultText), `${program} ${row.env}: the README's default "${row.defaultText}" is "${setting.defaultText}"`);
    }
  }
});

test("sgcli's options table gives --report-interval's variable and default from the table", (t) => {
  const row = read('README.md')
    .split('\n')
    .find((line) => line.startsWith(`| \`${SETTINGS.reportInterval.flag} `));
  t.truthy(row);
  t.true(row!.includes(`\`${SETTINGS.reportInterval.env}\``));
  t.true(row!.trimEnd().endsWith(`| ${SETTINGS.reportInterval.defaultText} |`));
});

/** NAME=value lines of an env file, commented out or not. */
function envFileEntries(text: string): Array<[name: string, value: string]> {
  return [...text.matchAll(/^#?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]);
}

for (const program of SERVERS) {
  test(`deploy/env/${program}.env shows every setting ${program} reads from its environment, each with a valid example`, (t) => {
    const entries = envFileEntries(read(`deploy/env/${program}.env`));
    t.deepEqual(
      entries.map(([name]) => name).sort(),
      settingsOf(program)
        .map((s) => s.env)
        .sort(),
    );
    for (const [name, value] of entries) {
      if (value === '') continue;
      const setting = ALL_SETTINGS.find((s) => s.env === name)!;
      t.true(setting.check(value).ok, `${name}=${value}`);
    }
  });
}

for (const [program, main] of [
  ['stressgrid-coordinator', 'dist/ts/coordinator/main.js'],
  ['stressgrid-generator', 'dist/ts/generator/main.js'],
] as const) {
  test(`${program} --help names every setting with its variable and default`, (t) => {
    const help = spawnSync(process.execPath, [join(root, main), '--help'], { encoding: 'utf8' });
    t.is(help.status, 0, help.stderr);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const setting of settingsOf(program)) {
      if (setting.programs[program] === 'flag') t.true(text.includes(`${setting.flag} ${setting.arg}`), `${setting.flag}`);
      t.true(text.includes(`env ${setting.env}, default ${setting.defaultText}`) || text.includes(`${setting.env} (environment only)`), setting.env);
    }
  });
}

test('a bad value is refused naming where it came from; an empty variable counts as unset', (t) => {
  const fromEnv = readSetting('reportInterval', undefined, { REPORT_INTERVAL_SECONDS: 'soon' });
  t.deepEqual(fromEnv.ok ? null : [fromEnv.from, fromEnv.problem], ['REPORT_INTERVAL_SECONDS', 'REPORT_INTERVAL_SECONDS (or --report-interval): must be a positive number of seconds, got "soon"']);
  const fromFlag = readSetting('reportInterval', '0', { REPORT_INTERVAL_SECONDS: '5' });
  t.deepEqual(fromFlag.ok ? null : fromFlag.from, '--report-interval');
  t.deepEqual(readSetting('reportInterval', undefined, { REPORT_INTERVAL_SECONDS: '' }), { ok: true, value: 60 });
  const id = readSetting('generatorId', undefined, { GENERATOR_ID: 'a\u0001b' });
  t.false(id.ok, 'GENERATOR_ID is checked');
});

test('sgcli refuses a bad GENERATOR_ID or STRESSGRID_WORKERS for its embedded generator, naming the variable', async (t) => {
  const { runEmbedded } = await import('../../ts/coordinator/embedded.js');
  const saved = { ...process.env };
  process.env.GENERATOR_ID = ' ';
  process.env.STRESSGRID_WORKERS = 'many';
  try {
    const result = await runEmbedded({}, { dataDir: '/nonexistent', reportIntervalSeconds: 1, signal: new AbortController().signal, onLive: () => {}, onNotice: () => {} });
    t.is(result.outcome, 'failed');
    t.deepEqual(
      result.problems?.map((p) => p.path),
      ['GENERATOR_ID', 'STRESSGRID_WORKERS'],
    );
  } finally {
    process.env = saved;
  }
});

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test("no program code spells a setting's variable itself: it comes from the table", (t) => {
  const spelled: string[] = [];
  for (const file of sources('ts')) {
    if (file === join('ts', 'shared', 'settings.ts')) continue;
    const code = read(file);
    for (const setting of ALL_SETTINGS) {
      if (new RegExp(`['"]${setting.env}['"]`).test(code)) spelled.push(`${file}: ${setting.env}`);
    }
  }
  t.deepEqual(spelled, []);
});
