/**
 * The Prometheus remote-write 1.0 wire format: a protobuf WriteRequest
 * (prometheus/prompb types.proto, remote.proto), snappy-compressed (block
 * format), POSTed with the headers the protocol names. protobufjs and snappyjs
 * do the encoding; only the few message types remote write needs are declared.
 */
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

export interface RemoteWriteSeries {
  /** `__name__` and the rest; sorted by name on encoding, as receivers expect. */
  labels: ReadonlyArray<readonly [name: string, value: string]>;
  /** In timestamp order. */
  samples: ReadonlyArray<{ value: number; timestampMs: number }>;
}

export const REMOTE_WRITE_HEADERS = Object.freeze({
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
});

const root = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
});
const WriteRequest = root.lookupType('prometheus.WriteRequest');

interface Snappy {
  compress(input: Uint8Array): Uint8Array;
  uncompress(input: Uint8Array): Uint8Array;
}
const snappy = createRequire(import.meta.url)('snappyjs') as Snappy;

/** One request body: the series as a WriteRequest, snappy-compressed. */
export function encodeWriteRequest(series: readonly RemoteWriteSeries[]): Uint8Array {
  const message = {
    timeseries: series.map((s) => ({
      labels: [...s.labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value })),
      samples: s.samples.map((sample) => ({ value: sample.value, timestamp: sample.timestampMs })),
    })),
  };
  return snappy.compress(WriteRequest.encode(message).finish());
}

/** The inverse of encodeWriteRequest (for tests and receivers written in JavaScript). */
export function decodeWriteRequest(body: Uint8Array): RemoteWriteSeries[] {
  const decoded = WriteRequest.toObject(WriteRequest.decode(snappy.uncompress(body)), { longs: Number, defaults: true }) as {
    timeseries: Array<{ labels: Array<{ name: string; value: string }>; samples: Array<{ value: number; timestamp: number }> }>;
  };
  return decoded.timeseries.map((s) => ({
    labels: s.labels.map((l) => [l.name, l.value] as const),
    samples: s.samples.map((sample) => ({ value: sample.value, timestampMs: sample.timestamp })),
  }));
}
