/**
 * Device scripts the end-to-end tests run. Most make a fixed number of requests
 * and then wait to be stopped: with no request in flight when the run ends,
 * every request nginx logged must have been counted, so totals compare exactly.
 */

/** Counts `<params.key ?? 'device'>` once per device start, makes `params.requests` GETs, then idles until stopped. */
export const FIXED_REQUESTS = `incCounter(params.key ?? 'device');
for (let i = 0; i < params.requests; i++) {
  const response = await get(params.path ?? '/');
  if (response.status !== 200) incCounter('bad_status');
}
await delay(600000);
`;

/** Requests without end: a few per connection, then the device is recycled. */
export const RECYCLING_REQUESTS = `for (let i = 0; i < 3; i++) {
  await get('/');
  await delay(params.delayMs ?? 20);
}
`;

/** Connects and holds the connection: only the ramp decides how many devices are active. */
export const IDLE = 'await delay(600000);\n';
