/** sgcli's end-of-run lines about generators that ran above 80 %. */
import test from 'ava';
import { HotGenerators } from '../../ts/cli/hot-generators.js';
import { fakeSnapshot } from './fake-snapshot.js';

test('each generator that went above 80% CPU or network at any second is named once, with its peaks', (t) => {
  const hot = new HotGenerators();
  const view = (id: string, cpuPercent: number, networkPercent: number | null) => ({ id, activeDevices: 1, cpuPercent, networkRxBytesPerSecond: 0, networkTxBytesPerSecond: 0, networkPercent });
  hot.see(fakeSnapshot({ generators: [view('a', 50, null), view('b', 95, 10)] }));
  hot.see(fakeSnapshot({ generators: [view('a', 60, 85), view('b', 70, 20)] }));
  hot.see(fakeSnapshot({ generators: [view('c', 79.9, 80)] }));
  t.deepEqual(hot.lines(), [
    'generator a ran above 80% (peak network 85% of its link): it may have limited the load; add generators or give each fewer devices',
    'generator b ran above 80% (peak cpu 95%): it may have limited the load; add generators or give each fewer devices',
  ]);
});
