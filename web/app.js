/**
 * The management website: a plan form with a live view and the generators
 * table (#/), the reports table (#/reports) and a report's page
 * (#/reports/<runId>). Everything it loads comes from this coordinator.
 */
import { ApiError, TOKEN_NEEDED_EVENT, api, askForToken } from './api.js';
import { GeneratorsTable } from './generators-table.js';
import { LiveView } from './live-view.js';
import { PlanForm } from './plan-form.js';
import { ReportPage, ReportsTable } from './reports.js';

const $ = (selector) => document.querySelector(selector);

const runButton = $('#run');
const formStatus = $('#form-status');
let runActive = false;
let generatorCount = 0;

const live = new LiveView($('#live'), {
  onActive: (active) => {
    runActive = active;
    runButton.disabled = active;
  },
});
const form = new PlanForm($('#plan-form'));
let liveConnected = false;
const generators = new GeneratorsTable($('#generators-body'), {
  onCount: (n) => {
    // After the first answer, so a token the coordinator needs has been asked for.
    if (!liveConnected) {
      liveConnected = true;
      live.connect();
    }
    if (n !== generatorCount) form.scheduleCheck(0);
    generatorCount = n;
    $('#generator-count').textContent = `${n} generator${n === 1 ? '' : 's'} connected`;
  },
});
const reports = new ReportsTable($('#reports-body'), $('#reports-status'));
const reportPage = new ReportPage($('#view-report'));

// What the last Run said no longer holds once the plan changes.
$('#plan-form').addEventListener('input', () => {
  formStatus.textContent = '';
});

$('#plan-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (runActive) return;
  runButton.disabled = true;
  formStatus.textContent = 'Checking the plan…';
  formStatus.className = 'status';
  try {
    const { plan, problems } = await form.check();
    if (plan === undefined || problems.length > 0) {
      formStatus.textContent = `The plan has ${problems.length} problem${problems.length === 1 ? '' : 's'}, marked beside the fields. Nothing was started.`;
      formStatus.className = 'status error';
      return;
    }
    const { runId } = await api('POST', '/api/runs', plan);
    formStatus.textContent = `Run ${runId} started.`;
    live.started(runId, plan.name);
  } catch (error) {
    if (error instanceof ApiError && error.problems.length > 0) form.showProblems(error.problems);
    formStatus.textContent = `Not started: ${error.message}`;
    formStatus.className = 'status error';
  } finally {
    runButton.disabled = runActive;
  }
});

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const reportMatch = /^\/reports\/([^/]+)$/.exec(hash);
  const view = reportMatch ? 'report' : hash === '/reports' ? 'reports' : 'run';
  for (const name of ['run', 'reports', 'report']) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.view === (view === 'report' ? 'reports' : view)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view === 'reports') void reports.load();
  if (view === 'report') void reportPage.show(decodeURIComponent(reportMatch[1]));
}

// The token prompt was cancelled: a button in the header asks again, instead of a prompt every second.
const tokenButton = $('#token-button');
window.addEventListener(TOKEN_NEEDED_EVENT, () => (tokenButton.hidden = false));
tokenButton.addEventListener('click', () => {
  if (!askForToken()) return;
  tokenButton.hidden = true;
  form.scheduleCheck(0);
  route();
});

window.addEventListener('hashchange', route);
route();
generators.start();
