// ElasticSearch over HTTP (the original Stressgrid's example, in JavaScript):
// each device PUTs a 64 KiB document under a random key and GETs it back,
// checking it is the same, once a second, on one kept-alive connection.
//
//   sgcli run es examples/elasticsearch.js --target-hosts <es-host> --target-port 9200
//
// params (optional): iterations (default 1001, the original's 0..1_000 with
// both ends included), delayMs (default 1000).
const iterations = params.iterations ?? 1001;
const delayMs = params.delayMs ?? 1000;

/** An error counted as `<code>_error_count` when it ends the device. */
const failure = (code, message) => Object.assign(new Error(message), { code });

// Perform 1,000 PUT/GETs on each HTTP connection (0 to 1,000: 1,001 in all, as the original)
for (let i = 0; i < iterations; i++) {
  // Key space is 2 ^ 24 = 16,777,216 keys
  const resource = `/stress/_doc/${base64.encode(randomBits(24), { url: true, padding: false })}`;

  // Value size is 49,152 * 4 / 3 = 65,536 bytes
  const doc = { value: base64.encode(randomBytes(49152), { padding: false }) };

  // Measure PUT latency
  startTiming('put');

  // PUT the document and receive 200 or 201
  const stored = await put(resource, {}, json(doc));
  if (stored.status !== 200 && stored.status !== 201) throw failure('put_status', `PUT ${resource} answered ${stored.status}`);

  // Count the total and per-second rate for each status code
  incCounter(`put_status_${stored.status}`);

  // Measure GET latency
  stopStartTiming('put', 'get');

  // GET and check the document
  const fetched = await get(resource);
  if (fetched.status !== 200) throw failure('get_status', `GET ${resource} answered ${fetched.status}`);
  const source = fetched.body?._source;
  if (source?.value !== doc.value || Object.keys(source).length !== 1) throw failure('get_mismatch', `GET ${resource} returned another document`);

  stopTiming('get');

  // Delay for 1 second +/-5%
  await delay(delayMs, 0.05);
}
