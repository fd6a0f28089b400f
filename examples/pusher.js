// Pusher over WebSocket (the original Stressgrid's example, in JavaScript):
// each device opens a Pusher channels connection, subscribes to one of 64
// private channels with an HMAC-SHA256 signature, then triggers a 1 KiB client
// event once a second and counts the events other devices triggered on its
// channel.
//
//   sgcli run pusher examples/pusher.js --target-hosts <pusher-host> --target-port 80
//
// params (optional): appKey (default "app_key"), secret (default "secret"),
// iterations (default 1001, the original's 0..1_000 with both ends included),
// delayMs (default 1000).
const appKey = params.appKey ?? 'app_key';
const secret = params.secret ?? 'secret';
const iterations = params.iterations ?? 1001;
const delayMs = params.delayMs ?? 1000;

/** An error counted as `<code>_error_count` when it ends the device. */
const failure = (code, message) => Object.assign(new Error(message), { code });

// Channel space is 2 ^ 6 = 64 channels
const channel = `private-stress-${base64.encode(randomBits(6), { url: true, padding: false })}`;
const event = 'client-stress';

// Upgrade HTTP connection to WebSocket
await wsUpgrade(`/app/${appKey}?protocol=7`);

// Handle pusher:connection_established and retrieve socket ID
const established = await wsReceiveJson();
if (established.event !== 'pusher:connection_established') throw failure('not_established', `expected pusher:connection_established, got ${established.event}`);
const socketId = JSON.parse(established.data).socket_id;

// Authenticate socket with private channel
const signature = hex.encode(crypto.hmac('sha256', secret, `${socketId}:${channel}`));

// Subscribe to private channel
await wsSendJson({
  event: 'pusher:subscribe',
  data: { auth: `${appKey}:${signature}`, channel },
});

// Handle pusher_internal:subscription_succeeded
const subscribed = await wsReceiveJson();
if (subscribed.event !== 'pusher_internal:subscription_succeeded' || subscribed.channel !== channel) {
  throw failure('subscribe_failed', `subscribing to ${channel}: ${JSON.stringify(subscribed).slice(0, 200)}`);
}

// Trigger 1,000 events on each WebSocket connection (0 to 1,000: 1,001 in all, as the original)
for (let i = 0; i < iterations; i++) {
  // Data size is 768 * 4 / 3 = 1024 bytes
  const data = base64.encode(randomBytes(768), { padding: false });

  // Trigger event
  await wsSendJson({ event, channel, data });

  // Count the total and per-second rate for triggered events
  incCounter('trigger');

  // Fetch received WebSocket messages
  for (let message = wsFetchJson(); message !== null; message = wsFetchJson()) {
    // Count the total and per-second rate for consumed events; ignore other events
    if (message.event === event && message.channel === channel) incCounter('consume');
  }

  // Delay for 1 second +/-5%
  await delay(delayMs, 0.05);
}
