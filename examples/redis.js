// Redis over TCP (the seed's Redis example): run with --target-protocol tcp
// and --target-port 6379. Each device holds one connection and speaks Redis's
// inline command protocol on it.

// Perform 1,000 SET/GETs on each TCP/IP connection (0 to 1,000: 1,001 in all, as the original)
for (let i = 0; i < 1001; i++) {
  // Key space is 2 ^ 16 = 65,536 keys
  const key = base64.encode(randomBits(16), { padding: false });

  // Value size is 768 * 4 / 3 = 1024 bytes
  const value = base64.encode(randomBytes(768), { padding: false });

  // Measure latency for SET operation
  startTiming('set');

  // Send "SET key value" and receive OK
  await send(`SET ${key} ${value}\r\n`);
  const set = text.decode(await recv());
  if (set !== '+OK\r\n') throw new Error(`SET answered ${JSON.stringify(set)}`);

  // Measure latency for GET operation
  stopStartTiming('set', 'get');

  // Send "GET key" and receive the value
  await send(`GET ${key}\r\n`);
  const [size, x, rest, ...more] = text.decode(await recv()).split('\r\n');
  if (size !== '$1024' || x === undefined || rest !== '' || more.length > 0) throw new Error(`GET answered ${JSON.stringify(size)}`);

  stopTiming('get');

  // Delay for 1 second +/-5%
  await delay(1000, 0.05);
}
