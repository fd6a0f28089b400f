/**
 * The deployment files checked with the tools that install here from Debian and
 * PyPI: HCL parsed for every Terraform and Packer file (python-hcl2), Debian's
 * Packer validating the image template, systemd-analyze verifying the units,
 * bash -n and shellcheck on every script (user data rendered as Terraform would),
 * and the units' command lines started with their env files the way systemd
 * would start them. Outside CI a missing tool skips its test with the reason; in
 * CI (.ci/run installs them) it fails.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { DEFAULT_API_PORT } from '../../ts/coordinator/api-server.js';
import { GENERATOR_PORT } from '../../ts/coordinator/generator-server.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const HCL_PYTHON = process.env.STRESSGRID_HCL_PYTHON ?? join(root, '.stressgrid', 'ci-python', 'bin', 'python3');
const work = mkdtempSync(join(tmpdir(), 'sg-deploy-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: options.cwd ?? root, env: options.env ?? process.env, input: options.input, encoding: 'utf8', timeout: 120_000 });
}

const has = (command: string) => run('sh', ['-c', `command -v ${command}`]).status === 0;

/** True when the tool is missing: the test then fails in CI, and passes saying why elsewhere. */
function missing(t: ExecutionContext, available: boolean, what: string): boolean {
  if (available) return false;
  if (process.env.CI === 'true') t.fail(`${what} is missing; .ci/run installs it and CI must run this test`);
  else {
    t.log(`skipped: ${what} is missing (apt-get install packer shellcheck systemd; python3 -m venv .stressgrid/ci-python && .stressgrid/ci-python/bin/pip install python-hcl2)`);
    t.pass();
  }
  return true;
}

/** Files under a folder of the checkout whose name ends with one of `endings`. */
function files(folder: string, ...endings: string[]): string[] {
  return (readdirSync(join(root, folder), { recursive: true }) as string[])
    .filter((f) => endings.some((e) => f.endsWith(e)))
    .map((f) => join(folder, f))
    .sort();
}

const HCL_FILES = [...files('terraform', '.tf'), ...files('packer', '.pkr.hcl')];
let parsedHcl: Record<string, Json> | undefined;
function hcl(path: string): Json {
  parsedHcl ??= JSON.parse(run(HCL_PYTHON, [join(root, 'test', 'deploy', 'hcl-json.py'), ...HCL_FILES]).stdout) as Record<string, Json>;
  return parsedHcl[path]!;
}

/** The blocks `kind "type" "name"` of a parsed Terraform or Packer folder, by `type.name`. */
function blocks(folder: string, kind: 'resource' | 'data' | 'variable' | 'output' | 'source'): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const file of HCL_FILES.filter((f) => dirname(f) === folder)) {
    for (const entry of (hcl(file)[kind] ?? []) as Json[]) {
      for (const [type, named] of Object.entries(entry)) {
        if (kind === 'variable' || kind === 'output') out[type] = named as Json;
        else for (const [name, body] of Object.entries(named as Json)) out[`${type}.${name}`] = body as Json;
      }
    }
  }
  return out;
}

/** Every `locals` value of a parsed folder, by name. */
function locals(folder: string): Json {
  return Object.assign({}, ...HCL_FILES.filter((f) => dirname(f) === folder).flatMap((f) => (hcl(f).locals ?? []) as Json[])) as Json;
}

test('every Terraform and Packer file parses as HCL2', (t) => {
  if (missing(t, existsSync(HCL_PYTHON) && run(HCL_PYTHON, ['-c', 'import hcl2']).status === 0, 'python-hcl2')) return;
  t.true(HCL_FILES.length >= 10, HCL_FILES.join(', '));
  const result = run(HCL_PYTHON, [join(root, 'test', 'deploy', 'hcl-json.py'), ...HCL_FILES]);
  t.is(result.status, 0, result.stderr);
  t.deepEqual(Object.keys(JSON.parse(result.stdout) as Json).sort(), [...HCL_FILES].sort());
});

test("terraform/aws: the seed's variables, 8000 from the management address only, 9696 from generators only, CloudWatch for the coordinator, generators in an autoscaling group", (t) => {
  if (missing(t, existsSync(HCL_PYTHON), 'python-hcl2')) return;
  const variables = blocks('terraform/aws', 'variable');
  for (const name of ['region', 'capacity', 'generator_instance_type', 'coordinator_instance_type', 'ami_owner', 'key_name', 'vpc_id']) t.truthy(variables[name], name);
  t.is(variables.prometheus_remote_write_url!.default, '', 'remote write is optional');
  t.false('default' in variables.region!, 'region is asked for');
  t.is(variables.capacity!.default, 1);

  const resources = blocks('terraform/aws', 'resource');
  const ingress = Object.entries(resources)
    .filter(([name]) => name.startsWith('aws_vpc_security_group_ingress_rule.'))
    .map(([name, r]): unknown[] => [name.split('.')[1], r.security_group_id ?? r.for_each, r.from_port, r.to_port, r.cidr_ipv4 ?? r.referenced_security_group_id]);
  t.deepEqual(ingress, [
    ['coordinator_website', '${aws_security_group.coordinator.id}', 8000, 8000, '${local.management_cidr}'],
    ['coordinator_generators', '${aws_security_group.coordinator.id}', 9696, 9696, '${aws_security_group.generator.id}'],
    ['ssh', '${each.value}', 22, 22, '${local.management_cidr}'],
  ]);
  t.regex(resources['aws_vpc_security_group_ingress_rule.ssh']!.for_each as string, /if var\.key_name != null/, 'SSH only with a key pair');
  for (const group of ['coordinator', 'generator']) t.deepEqual(Object.keys(resources[`aws_security_group.${group}`]!).sort(), ['description', 'name', 'vpc_id'], 'no inline rules');

  const policy = resources['aws_iam_role_policy.coordinator_cloudwatch']!.policy as string;
  t.regex(policy, /Action = "cloudwatch:PutMetricData"/);
  t.is(resources['aws_iam_role_policy.coordinator_cloudwatch']!.role, '${aws_iam_role.coordinator.id}');
  const coordinator = resources['aws_instance.coordinator']!;
  t.is(coordinator.iam_instance_profile, '${aws_iam_instance_profile.coordinator.name}');
  t.regex(coordinator.user_data as string, /cw_region = var\.region/);

  const group = resources['aws_autoscaling_group.generators']!;
  t.is(group.desired_capacity, '${var.capacity}');
  t.is((group.launch_template as Json[])[0]!.id, '${aws_launch_template.generator.id}');
  // Addresses, not DNS names: a VPC without DNS hostnames leaves private_dns and public_dns empty.
  t.regex(resources['aws_launch_template.generator']!.user_data as string, /coordinator_url = "ws:\/\/\$\{aws_instance\.coordinator\.private_ip\}:9696"/);
  t.is(blocks('terraform/aws', 'output').coordinator_url!.value, 'http://${aws_instance.coordinator.public_ip}:8000');
  t.is(coordinator.associate_public_ip_address, true, 'the coordinator has the public address the output names');
  for (const file of files('terraform/aws', '.tf')) t.notRegex(readFileSync(join(root, file), 'utf8'), /\b(private|public)_dns\b/, file);
});

test("terraform/gcp: the seed's variables, the coordinator-management firewall, generators in a managed instance group", (t) => {
  if (missing(t, existsSync(HCL_PYTHON), 'python-hcl2')) return;
  const variables = blocks('terraform/gcp', 'variable');
  for (const name of ['project', 'region', 'zone', 'capacity', 'generator_instance_type', 'coordinator_instance_type', 'image_project', 'network']) t.truthy(variables[name], name);
  for (const name of ['project', 'region', 'zone']) t.false('default' in variables[name]!, `${name} is asked for`);
  t.is(variables.prometheus_remote_write_url!.default, '', 'remote write is optional');
  t.is(variables.network!.default, 'default');

  const resources = blocks('terraform/gcp', 'resource');
  const management = resources['google_compute_firewall.coordinator_management']!;
  t.is(management.name, 'coordinator-management');
  t.deepEqual(management.source_ranges, ['${local.management_cidr}']);
  t.deepEqual((management.allow as Json[])[0]!.ports, ['8000', '22']);
  const generators = resources['google_compute_firewall.coordinator_generators']!;
  t.deepEqual(generators.source_tags, ['stressgrid-generator']);
  t.deepEqual((generators.allow as Json[])[0]!.ports, ['9696']);
  t.is(resources['google_compute_instance_group_manager.generators']!.target_size, '${var.capacity}');
  t.regex(
    JSON.stringify(resources['google_compute_instance_template.generator']!.metadata),
    /coordinator_url = \\"ws:\/\/\$\{google_compute_instance\.coordinator\.network_interface\[0\]\.network_ip\}:9696\\"/,
  );
  t.is(blocks('terraform/gcp', 'output').coordinator_url!.value, 'http://${google_compute_instance.coordinator.network_interface[0].access_config[0].nat_ip}:8000');
  t.deepEqual((resources['google_compute_instance.coordinator']!.network_interface as Json[])[0]!.access_config, [{}], 'the coordinator has the external address the output names');
});

for (const cloud of ['aws', 'gcp']) {
  test(`terraform/${cloud}: the website, the API and SSH are open only to management_cidr, by default the address of whoever applies, as a /32`, (t) => {
    if (missing(t, existsSync(HCL_PYTHON), 'python-hcl2')) return;
    const folder = `terraform/${cloud}`;
    t.is(blocks(folder, 'variable').management_cidr!.default, null);
    t.is(locals(folder).management_cidr, '${var.management_cidr != null ? var.management_cidr : "${chomp(data.http.my_address[0].response_body)}/32"}');
    t.deepEqual(blocks(folder, 'data')['http.my_address'], { count: '${var.management_cidr == null ? 1 : 0}', url: 'https://checkip.amazonaws.com' });
    // Whatever lets traffic in names management_cidr or the generators' own group or tag; nothing lets in 0.0.0.0/0.
    const inbound = Object.entries(blocks(folder, 'resource')).filter(([name]) => /^(aws_vpc_security_group_ingress_rule|google_compute_firewall)\./.test(name));
    t.true(inbound.length >= 3);
    for (const [name, rule] of inbound) {
      const sources = [rule.cidr_ipv4, ...((rule.source_ranges as string[] | undefined) ?? [])].filter((s) => s !== undefined);
      const fromGenerators = rule.referenced_security_group_id === '${aws_security_group.generator.id}' || JSON.stringify(rule.source_tags) === '["stressgrid-generator"]';
      t.true(fromGenerators ? sources.length === 0 : JSON.stringify(sources) === '["${local.management_cidr}"]', `${name}: ${JSON.stringify(rule)}`);
    }
  });
}

test("packer: both clouds start from the same Ubuntu LTS, the AMI is copied to the seed's regions, and the images are named as Terraform looks them up", (t) => {
  if (missing(t, existsSync(HCL_PYTHON), 'python-hcl2')) return;
  const variables = blocks('packer', 'variable');
  t.deepEqual(variables.ami_regions!.default, ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2']);
  t.is(variables.aws_region!.default, 'us-east-1', 'built in one of them');
  const { name } = locals('packer');
  t.is(name, 'stressgrid-${var.role}-${local.stamp}');

  const sources = blocks('packer', 'source');
  const ami = sources['amazon-ebs.ubuntu']!;
  t.is(ami.ami_regions, '${var.ami_regions}');
  t.is(ami.ami_name, '${local.name}');
  const filter = (ami.source_ami_filter as Json[])[0]!;
  // Canonical's own account, its newest build: never an image someone else published under the name.
  t.deepEqual(filter.owners, ['099720109477']);
  t.is(filter.most_recent, true);
  t.like(filter.filters, { 'root-device-type': 'ebs', 'virtualization-type': 'hvm' });
  const amiName = (filter.filters as Json).name as string;
  const amiRelease = /^ubuntu\/images\/hvm-ssd(?:-gp3)?\/ubuntu-[a-z]+-(\d\d)\.04-amd64-server-\*$/.exec(amiName);
  t.truthy(amiRelease, amiName);
  // LTS releases are the April ones of even years.
  t.is(Number(amiRelease![1]) % 2, 0, `Ubuntu ${amiRelease![1]}.04 is an LTS release`);
  t.true(Number(amiRelease![1]) >= 24, 'a supported LTS release');

  const gcp = sources['googlecompute.ubuntu']!;
  t.is(gcp.source_image_family, `ubuntu-${amiRelease![1]}04-lts-amd64`, 'the same release on GCP');
  t.is(gcp.image_name, '${local.name}');
  t.is(gcp.image_family, 'stressgrid-${var.role}');
  t.deepEqual((hcl('packer/stressgrid.pkr.hcl').build as Json[])[0]!.sources, ['source.amazon-ebs.ubuntu', 'source.googlecompute.ubuntu']);

  // Terraform finds the newest image of each role by the same names.
  t.deepEqual((blocks('terraform/aws', 'data')['aws_ami.stressgrid']!.filter as Json[])[0], { name: 'name', values: ['stressgrid-${each.key}-*'] });
  t.is(blocks('terraform/gcp', 'data')['google_compute_image.stressgrid']!.family, 'stressgrid-${each.key}');
});

/** The user data templates and the variables each templatefile() call gives them. */
function templateCalls(): { template: string; variables: string[] }[] {
  const calls: { template: string; variables: string[] }[] = [];
  for (const file of files('terraform', '.tf')) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/templatefile\("\$\{path\.module\}\/([^"]+)", \{([\s\S]*?)\}\)/g)) {
      calls.push({ template: join(dirname(file), m[1]!), variables: [...m[2]!.matchAll(/^\s*(\w+)\s*=/gm)].map((v) => v[1]!).sort() });
    }
  }
  return calls;
}

/** A template rendered as Terraform would, with the values given (only plain `${name}` interpolations are used). */
function render(template: string, values: Record<string, string>): string {
  return readFileSync(join(root, template), 'utf8').replace(/\$\{(\w+)\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`${template}: no value for \${${name}}`);
    return values[name]!;
  });
}

const SAMPLE: Record<string, string> = {
  token: 'Zm9vYmFyYmF6cXV4',
  cw_region: 'us-east-1',
  coordinator_url: 'ws://10.0.0.7:9696',
  prometheus_remote_write_url: 'https://metrics.example/api/v1/push',
};

/** Runs a rendered user-data script with /etc/default moved to `etc` and systemctl and chgrp recording their calls. */
function runUserData(script: string, etc: string): { result: SpawnSyncReturns<string>; calls: string } {
  const bin = join(etc, '..', 'bin');
  mkdirSync(bin, { recursive: true });
  mkdirSync(etc, { recursive: true });
  const calls = join(etc, '..', 'calls');
  for (const tool of ['systemctl', 'chgrp']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  const path = join(etc, '..', 'user-data.sh');
  writeFileSync(path, script.replaceAll('/etc/default/', `${etc}/`));
  const result = run('bash', [path], { env: { PATH: `${bin}:/usr/bin:/bin` } });
  return { result, calls: existsSync(calls) ? readFileSync(calls, 'utf8') : '' };
}

test('user data and startup scripts: Terraform passes every variable they use; rendered, they pass bash -n and shellcheck and write their env file', (t) => {
  if (missing(t, has('shellcheck'), 'shellcheck')) return;
  const calls = templateCalls();
  t.deepEqual(calls.map((c) => c.template).sort(), files('terraform', '.tftpl'));
  for (const { template, variables } of calls) {
    const used = [...new Set([...readFileSync(join(root, template), 'utf8').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!))].sort();
    t.deepEqual(used, variables, `${template}: the variables it uses are the ones templatefile() gives it`);
    const script = render(template, SAMPLE);
    const path = join(work, basename(template, '.tftpl'));
    writeFileSync(path, script);
    t.is(run('bash', ['-n', path]).status, 0, template);
    const lint = run('shellcheck', ['--shell=bash', path]);
    t.is(lint.status, 0, `${template}:\n${lint.stdout}`);

    const service = /coordinator/.test(template) ? 'stressgrid-coordinator' : 'stressgrid-generator';
    const etc = join(work, basename(template), 'etc-default');
    const { result, calls: made } = runUserData(script, etc);
    t.is(result.status, 0, result.stderr);
    const env = readFileSync(join(etc, `${service}.env`), 'utf8');
    t.regex(env, new RegExp(`^STRESSGRID_TOKEN=${SAMPLE.token}$`, 'm'));
    if (service === 'stressgrid-generator') t.regex(env, new RegExp(`^COORDINATOR_URL=${SAMPLE.coordinator_url}$`, 'm'));
    else t.regex(env, new RegExp(`^PROMETHEUS_REMOTE_WRITE_URL=${SAMPLE.prometheus_remote_write_url}$`, 'm'));
    t.regex(made, new RegExp(`^systemctl restart ${service}$`, 'm'));
  }
});

test('every shell script passes bash -n and shellcheck', (t) => {
  if (missing(t, has('shellcheck'), 'shellcheck')) return;
  const scripts = [...files('packer', '.sh'), ...files('deploy', '.sh'), ...files('terraform', '.sh')];
  t.true(scripts.includes('packer/build.sh') && scripts.includes('packer/scripts/provision.sh'), scripts.join(', '));
  for (const script of scripts) {
    t.is(run('bash', ['-n', script]).status, 0, script);
    const lint = run('shellcheck', [script]);
    t.is(lint.status, 0, `${script}:\n${lint.stdout}`);
  }
});

test("packer: every template is formatted HCL2, and the image template validates for both roles with Packer's own builders", (t) => {
  if (missing(t, has('packer'), 'packer')) return;
  const fmt = run('packer', ['fmt', '-check', '-diff', 'packer/']);
  t.is(fmt.status, 0, fmt.stdout + fmt.stderr);
  const version = /(\d+)\.(\d+)\.\d+/.exec(run('packer', ['version']).stdout);
  const [major, minor] = [Number(version?.[1]), Number(version?.[2])];
  // plugins.pkr.hcl's required_plugins needs Packer 1.7; a newer Packer validates
  // only after `packer init` has downloaded the plugins, which a test must not do.
  if (!(major === 1 && minor < 7)) {
    t.log(`packer ${version?.[0]}: validation needs its plugins (packer init); formatting checked only`);
    return;
  }
  const release = join(work, 'stressgrid-0.0.0.tgz');
  writeFileSync(release, '');
  for (const role of ['coordinator', 'generator']) {
    const validate = run('packer', ['validate', '-var', `role=${role}`, '-var', `release=${release}`, '-var', 'gcp_project_id=example-project', 'packer/stressgrid.pkr.hcl']);
    t.is(validate.status, 0, `${role}: ${validate.stdout}${validate.stderr}`);
  }
  const wrong = run('packer', ['validate', '-var', 'role=target', '-var', `release=${release}`, '-var', 'gcp_project_id=example-project', 'packer/stressgrid.pkr.hcl']);
  t.not(wrong.status, 0);
  t.regex(wrong.stdout + wrong.stderr, /The role must be coordinator or generator/);
});

const UNITS = ['stressgrid-coordinator', 'stressgrid-generator'] as const;

test('systemd units pass systemd-analyze verify', (t) => {
  if (missing(t, has('systemd-analyze') && existsSync('/usr/lib/systemd/system/sysinit.target'), 'systemd (systemd-analyze)')) return;
  // A root of its own: the system's units, ours, and the programs they start as npm installs them.
  const sysroot = join(work, 'sysroot');
  cpSync('/usr/lib/systemd/system', join(sysroot, 'usr/lib/systemd/system'), { recursive: true });
  mkdirSync(join(sysroot, 'etc/systemd/system'), { recursive: true });
  mkdirSync(join(sysroot, 'usr/bin'), { recursive: true });
  for (const unit of UNITS) {
    cpSync(join(root, 'deploy/systemd', `${unit}.service`), join(sysroot, 'etc/systemd/system', `${unit}.service`));
    writeFileSync(join(sysroot, 'usr/bin', unit), '#!/bin/sh\n');
    chmodSync(join(sysroot, 'usr/bin', unit), 0o755);
  }
  const verify = run('systemd-analyze', ['verify', `--root=${sysroot}`, ...UNITS.map((u) => `${u}.service`)]);
  t.is(verify.status, 0, verify.stderr);
  t.is(verify.stderr.trim(), '', 'no warning either');
  t.is(verify.stdout.trim(), '');
});

/** The [Service] settings of a unit file, each key's values in order. */
function serviceSection(unit: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let inService = false;
  for (const line of readFileSync(join(root, 'deploy/systemd', `${unit}.service`), 'utf8').split('\n')) {
    if (/^\[.*\]$/.test(line.trim())) inService = line.trim() === '[Service]';
    const m = /^(\w+)=(.*)$/.exec(line);
    if (inService && m) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
  }
  return settings;
}

/** An env file as systemd reads it: NAME=value lines, comments and blank lines skipped, quotes removed. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m && !line.trim().startsWith('#')) env[m[1]!] = m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  return env;
}

test("units: the kernel settings' keys all exist, each documented by a comment; LimitNOFILE high, restart on failure, the env file of the unit's name", (t) => {
  const lines = readFileSync(join(root, 'deploy/sysctl/60-stressgrid.conf'), 'utf8').split('\n');
  const keys: string[] = [];
  lines.forEach((line, i) => {
    const m = /^(-?)([a-z0-9_][a-z0-9_.-]*)\s*=\s*\S/.exec(line);
    if (!m) return t.true(line === '' || line.startsWith('#'), `line ${i + 1}: ${line}`);
    keys.push(m[2]!);
    t.true(lines[i - 1]!.startsWith('#') || /^-?[a-z0-9_][a-z0-9_.-]*\s*=/.test(lines[i - 1]!), `${m[2]} has a comment above it (or above its group)`);
    // A key the kernel may lack (a module not loaded) must be marked optional with '-'.
    if (m[1] === '') t.true(existsSync(join('/proc/sys', m[2]!.replaceAll('.', '/'))), `${m[2]} exists in this kernel`);
  });
  for (const key of ['net.ipv4.ip_local_port_range', 'net.ipv4.ip_local_reserved_ports', 'net.core.somaxconn', 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem', 'fs.file-max', 'fs.nr_open'])
    t.true(keys.includes(key), key);
  const setting = (key: string) => new RegExp(`^${key.replaceAll('.', '\\.')} = (.+)$`, 'm').exec(lines.join('\n'))![1]!;
  const nrOpen = Number(setting('fs.nr_open'));
  // The local port range covers the coordinator's ports: an outgoing connection must never take them.
  const [low, high] = setting('net.ipv4.ip_local_port_range').split(/\s+/).map(Number);
  const reserved = setting('net.ipv4.ip_local_reserved_ports').split(',').map(Number);
  for (const port of [DEFAULT_API_PORT, GENERATOR_PORT]) t.true(port < low! || port > high! || reserved.includes(port), `port ${port} is reserved`);

  for (const unit of UNITS) {
    const service = serviceSection(unit);
    t.deepEqual(service.get('EnvironmentFile'), [`-/etc/default/${unit}.env`]);
    t.deepEqual(service.get('Restart'), ['on-failure']);
    const limit = Number(service.get('LimitNOFILE')?.[0]);
    t.true(limit >= 1_000_000 && limit <= nrOpen, `${unit}: LimitNOFILE ${limit}`);
    t.deepEqual(service.get('User'), ['stressgrid']);
    // The example env file sets nothing: every line is a comment or blank, so the defaults hold until user data fills it in.
    t.deepEqual(parseEnvFile(readFileSync(join(root, 'deploy/env', `${unit}.env`), 'utf8')), {});
  }
});

/**
 * Starts a unit's ExecStart the way systemd would: its Environment= and then its
 * env file, a clean environment otherwise, its working directory; the program at
 * /usr/bin/<name> is the package's bin of that name. /var/lib/stressgrid and
 * /etc/default are moved under `dir`.
 */
function startUnit(unit: string, dir: string, envFile: string) {
  const service = serviceSection(unit);
  const state = join(dir, 'var-lib-stressgrid');
  mkdirSync(state, { recursive: true });
  const place = (value: string) => value.replaceAll('/var/lib/stressgrid', state);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const assignment of service.get('Environment') ?? []) {
    const [name, ...value] = assignment.split('=');
    env[name!] = place(value.join('='));
  }
  Object.assign(env, parseEnvFile(readFileSync(envFile, 'utf8')));
  const [program, ...args] = service.get('ExecStart')![0]!.split(/\s+/);
  const bin = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
  if (dirname(program!) !== '/usr/bin' || !bin[basename(program!)]) throw new Error(`${unit}: ExecStart ${program} is no program the package installs in /usr/bin`);
  const child = spawn(process.execPath, [join(root, bin[basename(program!)]!), ...args], { cwd: place(service.get('WorkingDirectory')![0]!), env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void closed.then(() => clearTimeout(killer));
  return {
    child,
    closed,
    stderr: () => stderr,
    async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
      for (const deadline = Date.now() + timeoutMs; ;) {
        const m = pattern.exec(stderr);
        if (m) return m;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${unit}: no ${pattern}; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    /** Stops it with the unit's KillSignal and returns the exit code. */
    async stop(): Promise<number | null> {
      child.kill((service.get('KillSignal')?.[0] as NodeJS.Signals | undefined) ?? 'SIGTERM');
      return (await closed)[0];
    },
  };
}

test('the units start: the coordinator with its env file, a generator with the env file its user data writes; the generator joins; SIGTERM stops both cleanly', async (t) => {
  const dir = join(work, 'units');
  const etc = join(dir, 'etc-default');
  mkdirSync(etc, { recursive: true });
  const token = 'unit-test-token';
  // The coordinator's env file: the example, with its settings filled in as a user would.
  const coordinatorEnv = join(etc, 'stressgrid-coordinator.env');
  writeFileSync(
    coordinatorEnv,
    `${readFileSync(join(root, 'deploy/env/stressgrid-coordinator.env'), 'utf8')}STRESSGRID_TOKEN=${token}\nCW_REGION=off\nSTRESSGRID_HOST=127.0.0.1\nSTRESSGRID_PORT=0\nSTRESSGRID_GENERATOR_PORT=0\n`,
  );
  const coordinator = startUnit('stressgrid-coordinator', join(dir, 'coordinator'), coordinatorEnv);
  t.teardown(() => coordinator.child.kill('SIGKILL'));
  const [, apiPort, generatorPort] = await coordinator.waitFor(/website and API on http:\/\/127\.0\.0\.1:(\d+), generators on ws:\/\/127\.0\.0\.1:(\d+), reports in (\S+)/);
  t.regex(coordinator.stderr(), /CloudWatch metrics off \(CW_REGION=off\)/);
  t.regex(coordinator.stderr(), new RegExp(`reports in ${join(dir, 'coordinator', 'var-lib-stressgrid', 'reports')}`), 'the data directory the unit gives it');

  // The generator's env file is what the EC2 user data writes.
  const userData = render('terraform/aws/generator-user-data.sh.tftpl', { coordinator_url: `ws://127.0.0.1:${generatorPort}`, token });
  const written = runUserData(userData, join(dir, 'generator-etc', 'etc-default'));
  t.is(written.result.status, 0, written.result.stderr);
  const generator = startUnit('stressgrid-generator', join(dir, 'generator'), join(dir, 'generator-etc', 'etc-default', 'stressgrid-generator.env'));
  t.teardown(() => generator.child.kill('SIGKILL'));

  const api = `http://127.0.0.1:${apiPort}`;
  let listed: { id: string }[] = [];
  for (const deadline = Date.now() + 20_000; listed.length === 0 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const response = await fetch(`${api}/api/generators`, { headers: { authorization: `Bearer ${token}` } });
    t.is(response.status, 200);
    listed = (await response.json()) as { id: string }[];
  }
  t.is(listed.length, 1, `the generator joined; coordinator: ${coordinator.stderr()} generator: ${generator.stderr()}`);
  t.is((await fetch(`${api}/api/generators`)).status, 401, 'the token of the env file is required');

  t.is(await generator.stop(), 0, generator.stderr());
  t.is(await coordinator.stop(), 0, coordinator.stderr());
});

test('a coordinator env file with a CW_REGION that is no region: the service exits 2 saying so', async (t) => {
  const dir = join(work, 'bad-env');
  mkdirSync(dir, { recursive: true });
  const envFile = join(dir, 'stressgrid-coordinator.env');
  writeFileSync(envFile, 'CW_REGION=Frankfurt\nSTRESSGRID_HOST=127.0.0.1\nSTRESSGRID_PORT=0\nSTRESSGRID_GENERATOR_PORT=0\n');
  const coordinator = startUnit('stressgrid-coordinator', dir, envFile);
  const [code] = await coordinator.closed;
  t.is(code, 2);
  t.regex(coordinator.stderr(), /CW_REGION: must be an AWS region like us-east-1, `auto` \(this EC2 instance's region\) or `off`; got "Frankfurt"/);
});
