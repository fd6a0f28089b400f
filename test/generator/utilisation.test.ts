/** The /proc parsers behind cpu_percent and the network byte counts, on fixed text. */
import test from 'ava';
import { createServer, connect, type AddressInfo } from 'node:net';
import { NETWORK_INTERFACE_ENV, UtilisationSampler, isLoopbackAddress, linkBitsPerSecond, parseNetDev, parseProcStat } from '../../ts/generator/utilisation.js';

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

test('parseNetDev: bytes summed over the interfaces picked, with their names', (t) => {
  t.deepEqual(parseNetDev(NET_DEV), { rx: 5_001_300, tx: 251_700, names: ['lo', 'eth0', 'veth1a2b'] });
  t.deepEqual(
    parseNetDev(NET_DEV, (name) => name !== 'lo'),
    { rx: 5_000_300, tx: 250_700, names: ['eth0', 'veth1a2b'] },
  );
  t.deepEqual(
    parseNetDev(NET_DEV, (name) => name === 'eth0'),
    { rx: 5_000_000, tx: 250_000, names: ['eth0'] },
  );
  t.deepEqual(
    parseNetDev(NET_DEV, (name) => name === 'wlan9'),
    { rx: 0, tx: 0, names: [] },
  );
  t.deepEqual(parseNetDev(''), { rx: 0, tx: 0, names: [] });
});

test('link speed from /sys/class/net/<name>/speed in bits per second; none where the kernel gives none', (t) => {
  const files: Record<string, string> = { '/sys/class/net/eth0/speed': '10000\n', '/sys/class/net/lo/speed': '-1\n' };
  const read = (path: string) => files[path] ?? null;
  t.is(linkBitsPerSecond('eth0', read), 10e9);
  t.is(linkBitsPerSecond('lo', read), null);
  t.is(linkBitsPerSecond('wlan9', read), null);
  t.is(linkBitsPerSecond('../../etc/passwd', read), null);
});

test('loopback addresses', (t) => {
  for (const ip of ['127.0.0.1', '127.1.2.3', '::1']) t.true(isLoopbackAddress(ip), ip);
  for (const ip of ['10.0.0.1', '::2', '128.0.0.1']) t.false(isLoopbackAddress(ip), ip);
});

test('UtilisationSampler: loopback traffic is counted only while a run targets loopback, and the sample names what it counted', async (t) => {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const traffic = () =>
    new Promise<void>((resolve) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.end(Buffer.alloc(1 << 20)));
      socket.resume().on('close', () => resolve());
    });
  const sampler = new UtilisationSampler({});
  sampler.sample();
  await traffic();
  const without = sampler.sample();
  t.false(without.networkInterfaces.includes('lo'));
  t.true(without.networkRxBytes < 1 << 20, `${without.networkRxBytes} bytes counted off loopback`);
  sampler.countLoopback(true);
  await traffic();
  const withLoopback = sampler.sample();
  t.true(withLoopback.networkInterfaces.includes('lo'));
  t.true(withLoopback.networkRxBytes >= 1 << 20, `${withLoopback.networkRxBytes} bytes`);
});

test('UtilisationSampler: a percentage between 0 and 100; an interface that does not exist counts no bytes', (t) => {
  const sampler = new UtilisationSampler({ [NETWORK_INTERFACE_ENV]: 'sg-none0' });
  const end = performance.now() + 300;
  while (performance.now() < end) Math.sqrt(Math.random());
  const u = sampler.sample();
  t.true(u.cpuPercent > 0 && u.cpuPercent <= 100, `${u.cpuPercent}%`);
  t.deepEqual([u.networkRxBytes, u.networkTxBytes], [0, 0]);
});
