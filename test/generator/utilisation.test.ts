/** The /proc parsers behind cpu_percent and the network byte counts, on fixed text. */
import test from 'ava';
import { NETWORK_INTERFACE_ENV, UtilisationSampler, parseNetDev, parseProcStat } from '../../ts/generator/utilisation.js';

const PROC_STAT = `cpu  100 5 50 800 20 3 2 1 7 9
cpu0 50 2 25 400 10 1 1 0 0 0
cpu1 50 3 25 400 10 2 1 1 0 0
intr 12345 0 0
ctxt 999
`;

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 5000000    4000    0    0    0     0          0         0   250000    3000    0    0    0     0       0          0
veth1a2b:     300       3    0    0    0     0          0         0      700       7    0    0    0     0       0          0
`;

test('parseProcStat: busy and total jiffies from the machine line, guest time left out', (t) => {
  // user nice system idle iowait irq softirq steal: 981 in all, idle + iowait = 820.
  t.deepEqual(parseProcStat(PROC_STAT), { busy: 161, total: 981 });
});

test('parseProcStat: text without the machine line gives null', (t) => {
  t.is(parseProcStat('cpu0 1 2 3 4\nintr 5\n'), null);
  t.is(parseProcStat(''), null);
});

test('parseNetDev: bytes summed over every interface, or only the one named', (t) => {
  t.deepEqual(parseNetDev(NET_DEV), { rx: 5_001_300, tx: 251_700 });
  t.deepEqual(parseNetDev(NET_DEV, 'eth0'), { rx: 5_000_000, tx: 250_000 });
  t.deepEqual(parseNetDev(NET_DEV, 'wlan9'), { rx: 0, tx: 0 });
  t.deepEqual(parseNetDev(''), { rx: 0, tx: 0 });
});

test('UtilisationSampler: a percentage between 0 and 100; an interface that does not exist counts no bytes', (t) => {
  const sampler = new UtilisationSampler({ [NETWORK_INTERFACE_ENV]: 'sg-none0' });
  const end = performance.now() + 300;
  while (performance.now() < end) Math.sqrt(Math.random());
  const u = sampler.sample();
  t.true(u.cpuPercent > 0 && u.cpuPercent <= 100, `${u.cpuPercent}%`);
  t.deepEqual([u.networkRxBytes, u.networkTxBytes], [0, 0]);
});
