/**
 * examples/pusher.js through sgcli against a loopback server speaking the
 * Pusher channels protocol: devices subscribe to private channels with a valid
 * signature, the client events they count as triggered reached the server, the
 * events they consumed were broadcast to them; with the wrong secret every
 * subscription fails, and the report counts each failure.
 */
import test from 'ava';
import { total } from '../e2e/run-archive.js';
import { startPusherServer } from '../support/pusher-server.js';
import { assertInFlightBound, runExample } from './example-run.js';

// 100 devices over 64 channels: many channels have several subscribers.
const DEVICES = 100;

test('pusher.js: subscriptions succeed, triggered events reach the server, consumed events were broadcast', async (t) => {
  const server = await startPusherServer();
  t.teardown(() => server.close());
  const { archive, samples } = await runExample(t, 'pusher', { port: server.port, devices: DEVICES, sustain: 5, params: { iterations: 4, delayMs: 300 } });

  t.deepEqual(archive.summary.errors, {});
  t.is(server.stats.authFailures, 0);
  t.is(server.stats.refusedEvents, 0);
  assertInFlightBound(t, samples('ws_upgrade_us'), server.stats.connections, DEVICES, 'upgrades');
  t.true(server.stats.subscribed >= DEVICES);
  const triggered = total(archive, 'trigger_count');
  t.true(triggered >= DEVICES * 4, `${triggered} events triggered`);
  assertInFlightBound(t, triggered, server.stats.clientEvents, DEVICES, 'client events');
  const consumed = total(archive, 'consume_count');
  t.true(consumed > 0, 'devices sharing a channel consume each other’s events');
  t.true(consumed <= server.stats.delivered, `consumed ${consumed} of ${server.stats.delivered} delivered`);
  // Frames out are one subscribe per connection and the events; frames in, the greeting, the subscription and the broadcasts.
  assertInFlightBound(t, total(archive, 'ws_sent_frames_count'), server.stats.subscribed + server.stats.clientEvents, DEVICES, 'frames sent');
  assertInFlightBound(t, total(archive, 'ws_received_frames_count'), 2 * server.stats.connections + server.stats.delivered, 2 * DEVICES, 'frames received');

  // Channels are private-stress- and 6 random bits front-padded to a byte, in URL-safe base64: two characters, the first of
  // 16 and the second of 4, 64 channels. Data is 768 random bytes in base64, 1,024 characters.
  const channels = [...server.stats.channels];
  t.true(channels.length > 1 && channels.length <= 64, `${channels.length} channels`);
  for (const channel of channels) t.regex(channel, /^private-stress-[A-P][AQgw]$/);
  t.deepEqual([...server.stats.dataLengths], [[1024, server.stats.clientEvents]]);
});

test('pusher.js with the wrong secret: every subscription fails and is counted as subscribe_failed', async (t) => {
  const server = await startPusherServer({ secret: 'the-real-secret' });
  t.teardown(() => server.close());
  const devices = 10;
  const { archive } = await runExample(t, 'pusher', { port: server.port, devices, sustain: 3, params: { iterations: 4, delayMs: 300 } });

  const failures = archive.summary.errors['subscribe_failed_error_count'] ?? 0;
  t.true(failures >= devices, `${failures} failures`);
  assertInFlightBound(t, failures, server.stats.authFailures, devices, 'auth failures');
  t.is(server.stats.subscribed, 0);
  t.is(server.stats.clientEvents, 0);
  t.is(total(archive, 'trigger_count'), 0);
});
