import test from 'ava';
import { renderFrame, renderLine } from '../../ts/cli/live-view.js';
import { fakeSnapshot } from './fake-snapshot.js';

const cloudWatch = (failed: number) => ({ writer: 'cloudwatch', sent: 1200, failed, retries: 2, pending: 40, ...(failed > 0 ? { lastError: 'Throttling, HTTP 400: Rate exceeded' } : {}) });

test('a writer that sends elsewhere shows what it sent, what failed and what waits; a failure in red with its error', (t) => {
  t.true(renderFrame(fakeSnapshot({ writers: [cloudWatch(0)] }), false).includes('cloudwatch sent 1,200   failed 0   waiting 40'));
  const failing = renderFrame(fakeSnapshot({ writers: [cloudWatch(7)] }), true).find((l) => l.includes('cloudwatch'));
  t.is(failing, '\x1b[2mcloudwatch\x1b[0m sent 1,200   failed 7   waiting 40   \x1b[1;31mThrottling, HTTP 400: Rate exceeded\x1b[0m');
  t.regex(renderLine(fakeSnapshot({ writers: [cloudWatch(7)] })), / cloudwatch_sent=1200 cloudwatch_failed=7 /);
});

test('without such writers nothing is added', (t) => {
  t.false(renderFrame(fakeSnapshot(), false).some((l) => l.includes('sent')));
  t.notRegex(renderLine(fakeSnapshot()), /_sent=/);
});
