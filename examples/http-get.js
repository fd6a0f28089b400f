// Each device sends GET requests on one kept-alive connection, pausing between
// them, then ends; the generator then starts a fresh device with a new connection.
//
// params (all optional, e.g. --script-params '{"path": "/json", "delayMs": 200}'):
//   path      the path to request (default "/")
//   delayMs   pause between requests in milliseconds (default 100, varied by ±50%)
//   requests  requests per device before it is recycled (default 100)
const path = params.path ?? '/';
const delayMs = params.delayMs ?? 100;
const requests = params.requests ?? 100;

for (let i = 0; i < requests; i++) {
  const response = await get(path);
  if (response.status !== 200) {
    incCounter(`status_${response.status}`);
  }
  await delay(delayMs, 0.5);
}
