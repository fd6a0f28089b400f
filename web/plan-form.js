/**
 * The plan form: simple fields for the common plan (one script, one port and
 * protocol for every host) or, in advanced mode, the whole plan as JSON. The
 * plan is checked by the coordinator as the user types (POST /api/plans/check),
 * so compile errors show at their line and every problem beside its field
 * before anything runs. The last plan is kept in localStorage.
 */
import { api } from './api.js';
import { ScriptEditor } from './editor.js';
import { PLAN_DEFAULTS, PROTOCOLS } from './shared/plan.js';

const STORAGE_KEY = 'stressgrid-plan';
const CHECK_DELAY_MS = 400;

export const EXAMPLE_PLAN = Object.freeze({
  name: 'example',
  blocks: [{ script: '// Each device runs this; when it returns, a new device starts.\nfor (let i = 0; i < 100; i++) {\n  await get("/");\n  await delay(1000, 0.1);\n}\n', params: {} }],
  addresses: [{ host: 'localhost', port: 80, protocol: 'http' }],
  size: 10,
  rampup: 10,
  sustain: 60,
  rampdown: 10,
});

/** The line of a JSON.parse error, from the position V8 names in its message. */
function jsonErrorLine(message, text) {
  const line = /\(line (\d+) column \d+\)/.exec(message);
  if (line) return Number(line[1]);
  const position = /at position (\d+)/.exec(message);
  return position ? text.slice(0, Number(position[1])).split('\n').length : null;
}

/** Field id for a problem's path in simple mode; unknown paths go to the form's general list. */
function fieldOfPath(path) {
  if (path === 'name') return 'plan-name';
  if (path === 'size') return 'devices';
  if (path === 'rampup' || path === 'sustain' || path === 'rampdown') return path;
  if (/^blocks\[0\]\.script/.test(path)) return 'script';
  if (/^blocks\[0\]\.params/.test(path)) return 'params';
  if (/^addresses(\[\d+\])?\.host$/.test(path) || path === 'addresses') return 'hosts';
  if (/^addresses\[\d+\]\.port$/.test(path)) return 'port';
  if (/^addresses\[\d+\]\.protocol$/.test(path)) return 'protocol';
  return null;
}

const OPEN_MODEL_FIELDS = ['arrivalRate', 'stages', 'maxDevices', 'arrival'];
const SIMPLE_FIELDS = ['plan-name', 'devices', 'script', 'params', 'protocol', 'hosts', 'port', 'rampup', 'sustain', 'rampdown'];

/** Whether the simple fields can show this plan without losing anything. */
function fitsSimpleForm(plan) {
  if (!plan || typeof plan !== 'object' || Array.isArray(plan)) return false;
  const { blocks, addresses } = plan;
  if (!Array.isArray(blocks) || blocks.length !== 1 || !Array.isArray(addresses) || addresses.length === 0) return false;
  const block = blocks[0];
  if (!block || typeof block.script !== 'string' || (block.size ?? 1) !== 1) return false;
  // The open model (arrivalRate, stages, maxDevices, arrival) is written in advanced mode.
  if (OPEN_MODEL_FIELDS.some((field) => block[field] !== undefined)) return false;
  const [first] = addresses;
  return addresses.every((a) => a && typeof a.host === 'string' && a.port === first.port && a.protocol === first.protocol && a.verifyTls === undefined && a.serverName === undefined);
}

export class PlanForm {
  /** `onCheck(result)` hears every check's outcome (PlanChecked, or null when the plan could not be sent). */
  constructor(form, { onCheck } = {}) {
    this.form = form;
    this.onCheck = onCheck ?? (() => {});
    this.field = (id) => form.querySelector(`#${id}`);
    this.editor = new ScriptEditor(this.field('script'));
    const protocol = this.field('protocol');
    protocol.replaceChildren(...PROTOCOLS.map((p) => new Option(p, p)));
    this.advanced = this.field('advanced');
    // The plan JSON gets the same editor: line numbers, highlighting, its syntax error marked at its line.
    this.planJson = new ScriptEditor(this.field('plan-json'));
    this.checkTimer = undefined;
    this.checkSeq = 0;
    form.addEventListener('input', (event) => {
      if (event.target === this.advanced) return;
      this.remember();
      this.scheduleCheck();
    });
    this.advanced.addEventListener('change', () => this.setAdvanced(this.advanced.checked));
    this.restore();
    this.scheduleCheck(0);
  }

  /** The plan as it would be sent, and problems found before sending (params that are not JSON, ...). */
  read() {
    return this.advanced.checked ? this.readJson() : this.readFields();
  }

  readJson() {
    try {
      return { plan: JSON.parse(this.planJson.value), local: [] };
    } catch (error) {
      const line = jsonErrorLine(error.message, this.planJson.value);
      return { plan: undefined, local: [{ path: '', message: `the plan is not valid JSON: ${error.message}`, ...(line ? { line, json: true } : {}) }] };
    }
  }

  readFields() {
    const local = [];
    const number = (id) => {
      const text = this.field(id).value.trim();
      return text === '' ? undefined : Number(text);
    };
    const block = { script: this.editor.value };
    const paramsText = this.field('params').value.trim();
    if (paramsText !== '') {
      try {
        block.params = JSON.parse(paramsText);
      } catch (error) {
        local.push({ path: 'blocks[0].params', message: `not valid JSON: ${error.message}` });
      }
    }
    const port = number('port');
    const protocol = this.field('protocol').value;
    const hosts = this.field('hosts')
      .value.split(/[\s,]+/)
      .filter((h) => h !== '');
    const plan = {
      name: this.field('plan-name').value,
      blocks: [block],
      addresses: hosts.map((host) => ({ host, ...(port === undefined ? {} : { port }), protocol })),
      size: number('devices'),
      rampup: number('rampup'),
      sustain: number('sustain'),
      rampdown: number('rampdown'),
    };
    return { plan, local };
  }

  /** Fills the fields from a plan; false when it needs advanced mode. */
  fill(plan) {
    if (!fitsSimpleForm(plan)) return false;
    const [block] = plan.blocks;
    const [address] = plan.addresses;
    this.field('plan-name').value = plan.name ?? '';
    this.field('devices').value = plan.size ?? PLAN_DEFAULTS.size;
    this.editor.value = block.script;
    this.field('params').value = block.params && Object.keys(block.params).length > 0 ? JSON.stringify(block.params, null, 2) : '';
    this.field('protocol').value = address.protocol ?? PLAN_DEFAULTS.protocol;
    this.field('hosts').value = plan.addresses.map((a) => a.host).join(', ');
    this.field('port').value = address.port ?? '';
    for (const id of ['rampup', 'sustain', 'rampdown']) this.field(id).value = plan[id] ?? PLAN_DEFAULTS[id];
    return true;
  }

  /** Switches mode as the user asked, carrying the plan across; stays advanced when the simple fields cannot hold it. */
  setAdvanced(on) {
    const note = this.field('advanced-problem');
    note.textContent = '';
    if (on) {
      // Params that are not JSON yet stay out of the carried plan; the fields keep them.
      this.planJson.value = JSON.stringify(this.readFields().plan, null, 2);
    } else {
      if (!this.fill(this.readJson().plan)) {
        this.advanced.checked = true;
        note.textContent = 'This plan needs advanced mode: it has several blocks, a block size, an arrival rate, addresses with different ports or protocols, or TLS settings (or is not valid JSON).';
        return;
      }
    }
    this.showMode(on);
    this.remember();
    this.scheduleCheck(0);
  }

  showMode(on) {
    this.advanced.checked = on;
    this.field('simple-fields').hidden = on;
    this.field('advanced-fields').hidden = !on;
  }

  remember() {
    const saved = this.advanced.checked ? { advanced: true, text: this.planJson.value } : { advanced: false, plan: this.read().plan };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
  }

  restore() {
    let saved;
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    } catch {
      saved = null;
    }
    if (saved?.advanced && typeof saved.text === 'string') {
      this.fill(EXAMPLE_PLAN);
      this.planJson.value = saved.text;
      this.showMode(true);
    } else {
      if (!this.fill(saved?.plan)) this.fill(EXAMPLE_PLAN);
      this.showMode(false);
    }
  }

  scheduleCheck(delay = CHECK_DELAY_MS) {
    clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => void this.check().catch(() => {}), delay);
  }

  /** Checks the plan now; resolves with { plan, problems, checked } (plan undefined when it cannot be sent). */
  async check() {
    clearTimeout(this.checkTimer);
    const seq = ++this.checkSeq;
    const { plan, local } = this.read();
    let checked = null;
    let problems = local;
    if (plan !== undefined) {
      checked = await api('POST', '/api/plans/check', plan);
      // Params that are not JSON were left out of what was sent; their problem stands instead.
      problems = [...local, ...checked.problems];
    }
    if (seq === this.checkSeq) {
      this.showProblems(problems);
      this.showEffective(checked);
      this.onCheck(checked);
    }
    return { plan: local.length === 0 ? plan : undefined, problems, checked };
  }

  /** Puts each problem beside its field (in advanced mode, all beside the JSON); script lines marked in the editor. */
  showProblems(problems) {
    const byField = new Map();
    const general = [];
    const scriptLines = new Map();
    for (const problem of problems) {
      const id = this.advanced.checked ? 'plan-json' : fieldOfPath(problem.path);
      const text = this.advanced.checked || id === null ? (problem.path ? `${problem.path}: ${problem.message}` : problem.message) : problem.message;
      if (id === null) general.push(text);
      else byField.set(id, [...(byField.get(id) ?? []), text]);
      if (problem.line !== undefined && /^blocks\[0\]\.script$/.test(problem.path)) scriptLines.set(problem.line, problem.message);
    }
    for (const id of [...SIMPLE_FIELDS, 'plan-json']) {
      const input = this.field(id);
      const note = this.field(`${id}-problem`);
      const messages = byField.get(id) ?? [];
      note.replaceChildren(...messages.map((m) => Object.assign(document.createElement('div'), { textContent: m })));
      note.hidden = messages.length === 0;
      if (messages.length > 0) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    this.editor.setErrors(this.advanced.checked ? new Map() : scriptLines);
    this.planJson.setErrors(new Map(problems.filter((p) => p.json).map((p) => [p.line, p.message])));
    const list = this.field('plan-problems');
    list.replaceChildren(...general.map((m) => Object.assign(document.createElement('li'), { textContent: m })));
    list.hidden = general.length === 0;
  }

  showEffective(checked) {
    const output = this.field('effective');
    const note = this.field('effective-note');
    if (!checked || checked.effectiveDevices === null) {
      output.value = '';
      note.textContent = checked ? `Ramp step: ${checked.stepSize} devices (${checked.generators} generator${checked.generators === 1 ? '' : 's'} × 10).` : '';
      return;
    }
    output.value = String(checked.effectiveDevices);
    const step = `Ramp step: ${checked.stepSize} devices (${checked.generators} generator${checked.generators === 1 ? '' : 's'} × 10).`;
    // The message names the step itself.
    note.textContent = checked.effectiveMessage ? `${checked.effectiveMessage[0].toUpperCase()}${checked.effectiveMessage.slice(1)}.` : step;
    output.classList.toggle('warn', checked.effectiveMessage !== null);
  }
}
