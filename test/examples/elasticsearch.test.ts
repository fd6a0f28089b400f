/**
 * examples/elasticsearch.js through sgcli against a loopback store that keeps
 * ElasticSearch's document API contract: every PUT and GET the report counts
 * reached the store, every GET returned the document the device had PUT, and
 * the documents stored are the 64 KiB values the example describes; against a
 * store that answers GETs with another document, every device fails its check.
 */
import test from 'ava';
import { total } from '../e2e/run-archive.js';
import { startDocumentStore } from '../support/document-store.js';
import { assertInFlightBound, runExample } from './example-run.js';

const DEVICES = 10;

test('elasticsearch.js: PUT/GET pairs reach the store, documents round-trip, the CSV agrees with the store', async (t) => {
  const store = await startDocumentStore();
  t.teardown(() => store.close());
  const { archive, samples } = await runExample(t, 'elasticsearch', { port: store.port, devices: DEVICES, sustain: 4, params: { iterations: 3, delayMs: 200 } });

  t.deepEqual(archive.summary.errors, {});
  const created = total(archive, 'put_status_201_count');
  const updated = total(archive, 'put_status_200_count');
  t.true(created > DEVICES, `${created} documents created`);
  assertInFlightBound(t, created, store.puts.get(201) ?? 0, DEVICES, 'PUTs answered 201');
  assertInFlightBound(t, updated, store.puts.get(200) ?? 0, DEVICES, 'PUTs answered 200');
  // Every counted PUT was timed, and so was every GET that followed one.
  t.is(samples('put_us'), created + updated);
  assertInFlightBound(t, samples('get_us'), store.gets.get(200) ?? 0, DEVICES, 'GETs answered 200');
  t.is(store.gets.get(404) ?? 0, 0);
  t.is(store.others, 0);
  assertInFlightBound(t, total(archive, 'response_count'), (store.puts.get(201) ?? 0) + (store.puts.get(200) ?? 0) + (store.gets.get(200) ?? 0), DEVICES, 'responses');

  // Keys are 24 random bits in URL-safe base64 (4 characters); values 49,152 random bytes in base64 (65,536 characters).
  for (const [key, doc] of store.documents) {
    t.regex(key, /^stress\/[A-Za-z0-9_-]{4}$/);
    t.is((doc.source as { value: string }).value.length, 65536);
  }
});

test('elasticsearch.js against a store whose GETs return another document: each device fails as get_mismatch', async (t) => {
  const store = await startDocumentStore({ corruptGets: true });
  t.teardown(() => store.close());
  const { archive, samples } = await runExample(t, 'elasticsearch', { port: store.port, devices: DEVICES, sustain: 3, params: { iterations: 3, delayMs: 200 } });

  t.deepEqual(Object.keys(archive.summary.errors), ['get_mismatch_error_count']);
  // A device fails at its first GET and is recycled a second later, to fail again.
  const mismatches = archive.summary.errors['get_mismatch_error_count']!;
  t.true(mismatches > DEVICES, `${mismatches} mismatches`);
  assertInFlightBound(t, mismatches, store.gets.get(200) ?? 0, DEVICES, 'GETs answered');
  // The GET is timed only once its document matched.
  t.is(samples('get_us'), 0);
  t.true(samples('put_us') >= mismatches);
});
