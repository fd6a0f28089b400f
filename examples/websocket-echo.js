// Each device upgrades its connection to WebSocket, then sends a message and
// waits for its echo, timing the round trip, then ends; the generator then
// starts a fresh device with a new connection. Works against the demo target:
//
//   sgcli run ws-demo examples/websocket-echo.js --demo --size 20 --sustain 20
//
// params (all optional):
//   path      the WebSocket path (default "/ws", the demo target's echo)
//   messages  messages per device before it is recycled (default 100)
//   delayMs   pause between messages in milliseconds (default 100, varied by ±50%)
const path = params.path ?? '/ws';
const messages = params.messages ?? 100;
const delayMs = params.delayMs ?? 100;

await wsUpgrade(path);
for (let i = 0; i < messages; i++) {
  const sent = `message ${i}`;
  startTiming('echo');
  await wsSendText(sent);
  const received = await wsReceiveText();
  stopTiming('echo');
  if (received !== sent) incCounter('wrong_echo');
  await delay(delayMs, 0.5);
}
