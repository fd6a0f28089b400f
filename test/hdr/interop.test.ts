// Interoperability with hdr-histogram-js, both ways and with both of its
// backends: the V2 compressed encoding is what generators, the coordinator and
// other HdrHistogram tools exchange, so it must mean the same everywhere.
import test from 'ava';
import * as hdr from 'hdr-histogram-js';
import { inflateSync } from 'node:zlib';
import { Histogram } from 'stressgrid/hdr';

await hdr.initWebAssembly();

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

function samples(n: number, seed: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    // Log-uniform over 1 µs .. ~60 s, like latencies.
    out.push(Math.max(1, Math.floor(Math.exp((x / 2 ** 31) * Math.log(59_000_000)))));
  }
  return out;
}

function theirs(useWebAssembly: boolean, values: number[]): hdr.Histogram {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly });
  for (const v of values) h.recordValue(v);
  return h;
}

const toBase64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const fromBase64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

for (const backend of ['wasm', 'js'] as const) {
  const useWebAssembly = backend === 'wasm';

  test(`ours → hdr-histogram-js (${backend}): identical percentiles, count, min, max`, (t) => {
    for (const seed of [1, 7, 42]) {
      const values = samples(20_000, seed);
      const ours = new Histogram();
      ours.recordMany(values);
      const decoded = hdr.decodeFromCompressedBase64(toBase64(ours.encode()), 64, useWebAssembly);
      // Compare with their own histogram after their own encode/decode: a decoded histogram
      // knows bucket bounds, not the exact raw extremes a live one tracks.
      const recorded = theirs(useWebAssembly, values);
      const reference = hdr.decodeFromCompressedBase64(hdr.encodeIntoCompressedBase64(recorded), 64, useWebAssembly);
      recorded.destroy();
      t.is(decoded.totalCount, values.length);
      t.is(decoded.minNonZeroValue, reference.minNonZeroValue);
      t.is(decoded.maxValue, reference.maxValue);
      for (const p of PERCENTILES) t.is(decoded.getValueAtPercentile(p), reference.getValueAtPercentile(p), `p${p}`);
      t.true(Math.abs(decoded.mean - reference.mean) < 1e-6 * reference.mean);
      decoded.destroy();
      reference.destroy();
    }
  });

  test(`hdr-histogram-js (${backend}) → ours: identical percentiles, count, min, max`, (t) => {
    for (const seed of [3, 11, 99]) {
      const values = samples(20_000, seed);
      const h = theirs(useWebAssembly, values);
      const decoded = Histogram.decode(fromBase64(hdr.encodeIntoCompressedBase64(h)));
      const reference = new Histogram();
      reference.recordMany(values);
      t.is(decoded.totalCount, values.length);
      t.is(decoded.min, reference.min);
      t.is(decoded.max, reference.max);
      for (const p of PERCENTILES) t.is(decoded.valueAtPercentile(p), reference.valueAtPercentile(p), `p${p}`);
      // Their reading of their own live histogram agrees with ours too. (At p99.9 of 20,000
      // values the two libraries round 0.999 × 20000 differently in floating point.)
      for (const p of [1, 10, 25, 50, 75, 90, 99]) t.is(decoded.valueAtPercentile(p), h.getValueAtPercentile(p), `their p${p}`);
      h.destroy();
    }
  });
}

test('the decompressed V2 bytes equal hdr-histogram-js byte for byte', (t) => {
  const values = samples(5_000, 5);
  const ours = new Histogram();
  ours.recordMany(values);
  const reference = theirs(false, values);
  const theirBytes = fromBase64(hdr.encodeIntoCompressedBase64(reference));
  const ourBytes = ours.encode();
  // Outer header: compressed V2 cookie, then the length of the zlib stream that follows.
  t.deepEqual([...ourBytes.subarray(0, 4)], [0x1c, 0x84, 0x93, 0x14]);
  t.is(Buffer.from(ourBytes).readUInt32BE(4), ourBytes.length - 8);
  t.deepEqual([...theirBytes.subarray(0, 4)], [0x1c, 0x84, 0x93, 0x14]);
  const ourPlain = inflateSync(ourBytes.subarray(8));
  const theirPlain = inflateSync(theirBytes.subarray(8));
  // Inner header: V2 cookie, payload length, normalizing offset 0, 3 digits, lowest 1, highest 60e6, ratio 1.0.
  const header = Buffer.alloc(40);
  header.writeUInt32BE(0x1c849313, 0);
  header.writeUInt32BE(ourPlain.length - 40, 4);
  header.writeUInt32BE(0, 8);
  header.writeUInt32BE(3, 12);
  header.writeBigUInt64BE(1n, 16);
  header.writeBigUInt64BE(60_000_000n, 24);
  header.writeDoubleBE(1.0, 32);
  t.deepEqual(ourPlain.subarray(0, 40), header);
  // The counts payload (zig-zag LEB128 with zero runs) is the same encoding of the same counts.
  t.deepEqual(ourPlain.subarray(40), theirPlain.subarray(40));
});

test('a known histogram encodes to a fixed V2 payload', (t) => {
  const h = new Histogram({ lowest: 1, highest: 2048, significantDigits: 2 });
  h.recordWithCount(1, 3);
  h.record(5);
  const plain = inflateSync(h.encode().subarray(8));
  // index 0 empty: a lone zero is written as 0; index 1 = 3 (zig-zag 6); indexes 2..4 empty:
  // a run of three zeros is written as -3 (zig-zag 5); index 5 = 1 (zig-zag 2).
  t.deepEqual([...plain.subarray(40)], [0, 6, 5, 2]);
});

test('the plain V2 encoding is the inflated compressed one, and hdr-histogram-js reads it', (t) => {
  const values = samples(5_000, 13);
  const ours = new Histogram();
  ours.recordMany(values);
  const plain = ours.encode({ compressed: false });
  t.deepEqual(Buffer.from(plain), inflateSync(ours.encode().subarray(8)));
  // hdr-histogram-js reads the plain form with its JS decoder (the one its compressed path inflates into).
  const { decode } = hdr.JsHistogram as unknown as { decode: (bytes: Uint8Array, bitBucketSize: number) => hdr.Histogram };
  const decoded = decode(plain, 64);
  t.is(decoded.totalCount, values.length);
  const fromCompressed = hdr.decodeFromCompressedBase64(toBase64(ours.encode()), 64, false);
  for (const p of PERCENTILES) t.is(decoded.getValueAtPercentile(p), fromCompressed.getValueAtPercentile(p), `p${p}`);
  // (At p99.9 of 5,000 values the two libraries round 0.999 × 5000 differently in floating point.)
  for (const p of [1, 10, 25, 50, 75, 90, 99]) t.is(decoded.getValueAtPercentile(p), ours.valueAtPercentile(p), `our p${p}`);
  const merged = new Histogram();
  merged.addEncoded(plain);
  merged.addEncoded(ours.encode());
  t.is(merged.totalCount, 2 * values.length);
  t.is(merged.valueAtPercentile(50), ours.valueAtPercentile(50));
});
