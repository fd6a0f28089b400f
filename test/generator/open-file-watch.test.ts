/** The open-file watch's arithmetic: when a run exceeds the limit, and once per run. */
import test from 'ava';
import { OpenFileWatch, RESERVED_DESCRIPTORS } from '../../ts/generator/open-file-watch.js';

test('warns once per run when its devices exceed the limit less the reserve; stopped cohorts count no more', (t) => {
  const watch = new OpenFileWatch(1000);
  t.is(watch.deviceCapacity, 1000 - RESERVED_DESCRIPTORS);
  t.is(watch.cohortStarted('a', 1, 500), undefined);
  t.is(watch.cohortStarted('a', 2, 1000 - RESERVED_DESCRIPTORS - 500), undefined, 'exactly at capacity');
  watch.cohortStopped('a', 2);
  t.is(watch.cohortStarted('a', 3, 400), undefined, 'the stopped cohort freed its share');
  t.regex(watch.cohortStarted('a', 4, 100)!, /gives this generator 1000 devices, more than its open-file limit of 1000 allows \(about 936 devices\)/);
  t.is(watch.cohortStarted('a', 5, 100), undefined, 'said once');
  t.is(watch.cohortStarted('b', 1, 900), undefined, 'a new run starts from zero');
  t.truthy(watch.cohortStarted('b', 2, 100));
});

test('tells the first too_many_open_files errors of each run, naming the limit', (t) => {
  const watch = new OpenFileWatch(1024);
  t.is(watch.countersSeen('a', { response_count: 3 }), undefined);
  t.is(watch.countersSeen(null, { too_many_open_files_error_count: 3 }), undefined, 'idle');
  t.regex(watch.countersSeen('a', { too_many_open_files_error_count: 3 })!, /open-file limit of 1024 descriptors.*ulimit -n/);
  t.is(watch.countersSeen('a', { too_many_open_files_error_count: 3 }), undefined);
  t.truthy(watch.countersSeen('b', { too_many_open_files_error_count: 1 }));
});

test('an unknown or unlimited limit never warns about devices', (t) => {
  t.is(new OpenFileWatch(null).cohortStarted('a', 1, 1e6), undefined);
  t.is(new OpenFileWatch(Infinity).cohortStarted('a', 1, 1e6), undefined);
  t.regex(new OpenFileWatch(null).countersSeen('a', { too_many_open_files_error_count: 1 })!, /its open-file limit/);
});
