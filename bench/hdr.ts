// Native HDR histogram vs hdr-histogram-js (WebAssembly and pure JS backends),
// side by side in one process: ns per recorded value (one call per value, and
// batched), merging two 1M-sample histograms, encoding and decoding.
//
//   npm run bench:hdr            (or: node dist/bench/hdr.js [--quick])
import * as hdr from 'hdr-histogram-js';
import { cpus } from 'node:os';
import { Histogram } from 'stressgrid/hdr';

await hdr.initWebAssembly();

const quick = process.argv.includes('--quick');
const N = quick ? 200_000 : 1_000_000;
const ROUNDS = quick ? 3 : 7;

function values(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out[i] = Math.max(1, Math.floor(Math.exp((x / 2 ** 31) * Math.log(59_000_000))));
  }
  return out;
}

/**
 * Median CPU ns per unit of `work` over ROUNDS runs. CPU time of this process, not
 * wall time, so other load on the machine does not count against either side.
 */
function measure(units: number, work: () => void): number {
  const times: number[] = [];
  work();
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    work();
    const used = process.cpuUsage(t0);
    times.push(((used.user + used.system) * 1000) / units);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const a = values(N, 1);
const b = values(N, 2);
const build = (useWebAssembly: boolean) => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly });

type Row = { op: string; ours: number; wasm: number; js: number };
const rows: Row[] = [];

{
  const ours = new Histogram();
  const w = build(true);
  const j = build(false);
  rows.push({
    op: 'record, one call per value (ns/value)',
    ours: measure(N, () => {
      for (let i = 0; i < N; i++) ours.record(a[i]!);
    }),
    wasm: measure(N, () => {
      for (let i = 0; i < N; i++) w.recordValue(a[i]!);
    }),
    js: measure(N, () => {
      for (let i = 0; i < N; i++) j.recordValue(a[i]!);
    }),
  });
  // hdr-histogram-js has no batch call: its best is the same loop, so that is its figure.
  const batch = 1000;
  rows.push({
    op: `record, batches of ${batch} (ns/value)`,
    ours: measure(N, () => {
      for (let i = 0; i < N; i += batch) ours.recordMany(a.subarray(i, i + batch));
    }),
    wasm: rows[0]!.wasm,
    js: rows[0]!.js,
  });
  w.destroy();
  j.destroy();
}

const oursA = new Histogram();
const oursB = new Histogram();
oursA.recordMany(a);
oursB.recordMany(b);
const theirs = (useWebAssembly: boolean) => {
  const x = build(useWebAssembly);
  const y = build(useWebAssembly);
  for (let i = 0; i < N; i++) x.recordValue(a[i]!);
  for (let i = 0; i < N; i++) y.recordValue(b[i]!);
  return [x, y] as const;
};
const [wA, wB] = theirs(true);
const [jA, jB] = theirs(false);

const mergeInto = (make: () => { add(o: never): void; destroy?(): void }, other: unknown) => () => {
  const target = make();
  target.add(other as never);
  target.destroy?.();
};
rows.push({
  op: 'merge a 1M-sample histogram (µs/merge)',
  ours: measure(
    1000,
    mergeInto(() => {
      const h = new Histogram();
      h.add(oursA);
      return h;
    }, oursB),
  ),
  wasm: measure(
    1000,
    mergeInto(() => {
      const h = build(true);
      h.add(wA);
      return h;
    }, wB),
  ),
  js: measure(
    1000,
    mergeInto(() => {
      const h = build(false);
      h.add(jA);
      return h;
    }, jB),
  ),
});

const oursBytes = oursA.encode();
const wasmB64 = hdr.encodeIntoCompressedBase64(wA);
const jsB64 = hdr.encodeIntoCompressedBase64(jA);
rows.push({
  op: 'encode V2 compressed (µs/histogram)',
  ours: measure(1000, () => {
    oursA.encode();
  }),
  wasm: measure(1000, () => {
    hdr.encodeIntoCompressedBase64(wA);
  }),
  js: measure(1000, () => {
    hdr.encodeIntoCompressedBase64(jA);
  }),
});
rows.push({
  op: 'decode V2 compressed (µs/histogram)',
  ours: measure(1000, () => {
    Histogram.decode(oursBytes);
  }),
  wasm: measure(1000, () => {
    hdr.decodeFromCompressedBase64(wasmB64, 64, true).destroy();
  }),
  js: measure(1000, () => {
    hdr.decodeFromCompressedBase64(jsB64, 64, false);
  }),
});
// What the coordinator does with every generator's push: decode, then merge into the
// interval. Ours merges the encoding straight into the accumulator (addEncoded);
// hdr-histogram-js has no such call, so its best is decode then add.
{
  const acc = new Histogram();
  const accW = build(true);
  const accJ = build(false);
  rows.push({
    op: 'decode + merge into an accumulator (µs)',
    ours: measure(1000, () => {
      acc.addEncoded(oursBytes);
    }),
    wasm: measure(1000, () => {
      const d = hdr.decodeFromCompressedBase64(wasmB64, 64, true);
      accW.add(d);
      d.destroy();
    }),
    js: measure(1000, () => {
      accJ.add(hdr.decodeFromCompressedBase64(jsB64, 64, false));
    }),
  });
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
console.log(`HDR histogram benchmark: ${N.toLocaleString('en')} log-uniform values 1 µs..59 s, median CPU time of ${ROUNDS} rounds`);
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}\n`);
console.log(`${'operation'.padEnd(42)}${'stressgrid'.padStart(12)}${'hdr-js wasm'.padStart(13)}${'hdr-js js'.padStart(11)}${'vs wasm'.padStart(10)}${'vs js'.padStart(8)}`);
for (const r of rows) {
  console.log(
    `${r.op.padEnd(42)}${fmt(r.ours).padStart(12)}${fmt(r.wasm).padStart(13)}${fmt(r.js).padStart(11)}${(r.wasm / r.ours).toFixed(1).padStart(9)}x${(r.js / r.ours).toFixed(1).padStart(7)}x`,
  );
}
for (const h of [wA, wB]) h.destroy();
