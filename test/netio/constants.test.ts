import test from 'ava';
import { EVENT, EVENT_WIDTH, loadNetio, PEER_CLOSED, TRANSPORT } from '../../ts/netio/native.js';

test("native.ts's event numbers, event width, PEER_CLOSED and transports are the engine's", (t) => {
  const loaded = loadNetio();
  if (!('addon' in loaded)) return t.fail(`netio did not load: ${loaded.error}`);
  t.deepEqual({ ...loaded.addon.constants }, { EVENT: { ...EVENT }, EVENT_WIDTH, PEER_CLOSED, TRANSPORT: { ...TRANSPORT } });
  t.true(Object.isFrozen(loaded.addon.constants) && Object.isFrozen(loaded.addon.constants.EVENT));
});
