import test from 'ava';
import { Histogram, HDR_ERROR } from 'stressgrid/hdr';

test('records single values, batches and counts, and summarises them', (t) => {
  const h = new Histogram();
  h.record(1);
  h.recordMany(new Float64Array([2, 3, 4]));
  h.recordMany([5, 6]);
  h.recordWithCount(1000, 4);
  t.is(h.totalCount, 10);
  t.is(h.min, 1);
  t.is(h.max, 1000);
  t.is(h.valueAtPercentile(50), 5);
  t.is(h.valueAtPercentile(100), 1000);
  t.deepEqual(h.valuesAtPercentiles([0, 50, 100]), [1, 5, 1000]);
  t.true(Math.abs(h.mean - (1 + 2 + 3 + 4 + 5 + 6 + 4000) / 10) < 0.01);
  t.true(h.stddev > 0);
  t.deepEqual([h.lowest, h.highest, h.significantDigits], [1, 60_000_000, 3]);
});

test('empty histogram reads zero everywhere', (t) => {
  const h = new Histogram();
  t.deepEqual([h.totalCount, h.min, h.max, h.mean, h.valueAtPercentile(99)], [0, 0, 0, 0, 0]);
});

test('honours bounds and precision', (t) => {
  const h = new Histogram({ lowest: 1, highest: 3_600_000_000, significantDigits: 2 });
  h.record(123_456_789);
  t.is(h.significantDigits, 2);
  const v = h.max;
  t.true(Math.abs(v - 123_456_789) / 123_456_789 < 0.01, `max ${v}`);
});

test('values above highest are clamped and counted, never an error', (t) => {
  const h = new Histogram({ highest: 1000 });
  h.record(5_000);
  h.recordMany([1, 1e300, 2000]);
  t.is(h.totalCount, 4);
  t.is(h.clampedCount, 3);
  t.is(h.max, 1000);
});

test('add merges counts, reset empties', (t) => {
  const a = new Histogram();
  const b = new Histogram();
  a.recordMany([1, 2, 3]);
  b.recordMany([100, 200]);
  a.add(b);
  t.is(a.totalCount, 5);
  t.is(a.max, 200);
  t.is(b.totalCount, 2);
  a.reset();
  t.is(a.totalCount, 0);
});

test('encode then decode keeps every statistic', (t) => {
  const h = new Histogram();
  const values = new Float64Array(10_000);
  for (let i = 0; i < values.length; i++) values[i] = Math.floor(Math.exp(Math.random() * 15));
  h.recordMany(values);
  const d = Histogram.decode(h.encode());
  t.true(d instanceof Histogram);
  for (const p of [0, 1, 10, 50, 90, 99, 99.9, 100]) t.is(d.valueAtPercentile(p), h.valueAtPercentile(p));
  t.deepEqual([d.totalCount, d.min, d.max, d.mean, d.stddev], [h.totalCount, h.min, h.max, h.mean, h.stddev]);
  d.add(h);
  t.is(d.totalCount, 2 * h.totalCount);
});

test('addEncoded merges like decode then add, and adds nothing from corrupt bytes', (t) => {
  const source = new Histogram();
  source.recordMany([1, 50, 5000, 5_000_000]);
  const bytes = source.encode();
  const direct = new Histogram();
  direct.addEncoded(bytes);
  direct.addEncoded(bytes);
  const reference = new Histogram();
  reference.add(Histogram.decode(bytes));
  reference.add(Histogram.decode(bytes));
  t.deepEqual([...direct.encode()], [...reference.encode()]);
  const err = t.throws(() => direct.addEncoded(bytes.subarray(0, bytes.length - 2)));
  t.is((err as { code?: string }).code, HDR_ERROR.decode);
  t.is(direct.totalCount, 8);
  const narrow = new Histogram({ highest: 1000, significantDigits: 2 });
  narrow.addEncoded(bytes);
  t.is(narrow.totalCount, 4);
});

test('bad values give a clear error with a code and record nothing', (t) => {
  const h = new Histogram();
  for (const bad of [NaN, -1, Infinity, -Infinity]) {
    const err = t.throws(() => h.record(bad));
    t.is((err as { code?: string }).code, HDR_ERROR.value);
  }
  t.is((t.throws(() => h.record('12' as unknown as number)) as { code?: string }).code, HDR_ERROR.argument);
  t.is((t.throws(() => h.record(undefined as unknown as number)) as { code?: string }).code, HDR_ERROR.argument);
  const batch = t.throws(() => h.recordMany(new Float64Array([1, 2, NaN, 4])));
  t.regex(batch.message, /values\[2\].*finite.*nothing of this batch was recorded/);
  t.is((t.throws(() => h.recordMany([1, 'x' as unknown as number])) as { code?: string }).code, HDR_ERROR.argument);
  t.is((t.throws(() => h.recordMany('abc' as unknown as number[])) as { code?: string }).code, HDR_ERROR.argument);
  t.is((t.throws(() => h.valueAtPercentile(101)) as { code?: string }).code, HDR_ERROR.percentile);
  t.is((t.throws(() => h.add({} as Histogram)) as { code?: string }).code, HDR_ERROR.argument);
  t.is(h.totalCount, 0);
});

test('bad options are refused with the field named', (t) => {
  t.regex(t.throws(() => new Histogram({ lowest: 0 })).message, /lowest must be at least 1/);
  t.regex(t.throws(() => new Histogram({ significantDigits: 6 })).message, /significantDigits must be 1 to 5/);
  t.regex(t.throws(() => new Histogram({ lowest: 100, highest: 150 })).message, /highest must be at least twice lowest/);
  t.regex(t.throws(() => new Histogram({ highest: 1.5 })).message, /highest must be a whole number/);
  t.is((t.throws(() => new Histogram({ lowest: 'a' as unknown as number })) as { code?: string }).code, HDR_ERROR.argument);
});

test('corrupt and truncated bytes give ERR_HDR_DECODE, never a crash', (t) => {
  const h = new Histogram();
  h.recordMany([1, 10, 100, 1000, 10_000]);
  const bytes = h.encode();
  for (let cut = 0; cut < bytes.length; cut++) {
    const err = t.throws(() => Histogram.decode(bytes.subarray(0, cut)));
    t.is((err as { code?: string }).code, HDR_ERROR.decode);
  }
  t.regex(t.throws(() => Histogram.decode(new Uint8Array(64))).message, /not an encoded HDR histogram/);
  let survived = 0;
  for (let i = 0; i < 5000; i++) {
    const b = Uint8Array.from(bytes);
    b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
    try {
      Histogram.decode(b);
      survived++;
    } catch (err) {
      t.is((err as { code?: string }).code, HDR_ERROR.decode);
    }
  }
  t.true(survived < 5000);
  t.is((t.throws(() => Histogram.decode('AAAA' as unknown as Uint8Array)) as { code?: string }).code, HDR_ERROR.argument);
});

test('memory is released when histograms are collected', async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return t.fail('ava must run with --expose-gc (package.json ava.nodeArguments)');
  const before = process.memoryUsage().rss;
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 200; i++) new Histogram().record(i);
    gc();
    await new Promise((r) => setImmediate(r));
  }
  gc();
  // 8,000 histograms of ~130 KB each would hold ~1 GB if never freed.
  const grown = process.memoryUsage().rss - before;
  t.true(grown < 300 * 1024 * 1024, `RSS grew ${Math.round(grown / 1048576)} MiB`);
});
