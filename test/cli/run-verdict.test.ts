import test from 'ava';
import { criticalReasons, deviceErrorTotal, SCRIPT_FAULT_CODES } from '../../ts/cli/run-verdict.js';
import { fakeSnapshot } from './fake-snapshot.js';

test('a run with responses and only transport errors is not broken', (t) => {
  t.deepEqual(criticalReasons(0, fakeSnapshot()), []);
});

test('the runner’s own count of critical errors breaks the run', (t) => {
  t.deepEqual(criticalReasons(2, fakeSnapshot()), ['the runner counted 2 critical errors']);
});

test('any script fault breaks the run, each code named with its count', (t) => {
  const snapshot = fakeSnapshot();
  snapshot.counters.script_error_count = { total: 4, perSecond: 0 };
  snapshot.counters.cpu_limit_error_count = { total: 1, perSecond: 0 };
  t.deepEqual(criticalReasons(0, snapshot), ['the script failed: 4 script errors, 1 cpu_limit errors']);
  t.true(SCRIPT_FAULT_CODES.includes('stack_overflow'));
  t.false(SCRIPT_FAULT_CODES.includes('conn_refused'));
});

test('a run in which nothing was exchanged is broken, and so is one with no snapshot at all', (t) => {
  const refusedOnly = fakeSnapshot({ counters: { conn_refused_error_count: { total: 9, perSecond: 3 } } });
  t.deepEqual(criticalReasons(0, refusedOnly), ['no device exchanged anything with the target']);
  t.deepEqual(criticalReasons(0, undefined), ['no device exchanged anything with the target']);
  const tcpSender = fakeSnapshot({ counters: { send_count: { total: 1, perSecond: 1 } } });
  t.deepEqual(criticalReasons(0, tcpSender), []);
  const wsReceiver = fakeSnapshot({ counters: { ws_received_frames_count: { total: 1, perSecond: 1 } } });
  t.deepEqual(criticalReasons(0, wsReceiver), []);
});

test('the device error total sums every error counter once', (t) => {
  const snapshot = fakeSnapshot();
  snapshot.counters.timeout_error_count = { total: 5, perSecond: 1 };
  t.is(deviceErrorTotal(snapshot), 8);
  t.is(deviceErrorTotal(undefined), 0);
});
