/**
 * The binary frame a telemetry message travels in. Histograms are most of a
 * push's bytes; as JSON they would need base64 (a third bigger, decoded twice on
 * the coordinator's hot path), so they follow a JSON header as raw bytes:
 *
 *   u32 BE  H, the header's length in bytes
 *   H bytes UTF-8 JSON: the Telemetry message with `histograms` as
 *           [[name, byteLength], ...] in the order of the bytes that follow
 *   then    each histogram's bytes, back to back, to the frame's end exactly
 *
 * This file only joins and splits; protocol-validation.ts checks what a peer sent.
 */
import type { GeneratorMessage, Telemetry } from './protocol.js';

/** Bytes of the header-length prefix. */
export const TELEMETRY_PREFIX_BYTES = 4;

/** The header as it is on the wire: a Telemetry whose histograms are named lengths. */
export type TelemetryHeader = Omit<Telemetry, 'histograms'> & { histograms: Array<[name: string, byteLength: number]> };

export function encodeTelemetryFrame(telemetry: Telemetry): Buffer {
  const entries = Object.entries(telemetry.histograms);
  const header: TelemetryHeader = { ...telemetry, histograms: entries.map(([name, bytes]) => [name, bytes.byteLength]) };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.allocUnsafe(TELEMETRY_PREFIX_BYTES);
  prefix.writeUInt32BE(json.length, 0);
  return Buffer.concat([prefix, json, ...entries.map(([, bytes]) => bytes)]);
}

/** A frame cut at its header: the JSON text and the histogram bytes after it. Undefined if the prefix lies. */
export function splitTelemetryFrame(frame: Buffer): { header: string; body: Buffer } | undefined {
  if (frame.length < TELEMETRY_PREFIX_BYTES) return undefined;
  const headerEnd = TELEMETRY_PREFIX_BYTES + frame.readUInt32BE(0);
  if (headerEnd > frame.length) return undefined;
  return { header: frame.toString('utf8', TELEMETRY_PREFIX_BYTES, headerEnd), body: frame.subarray(headerEnd) };
}

/** A generator message as it goes on a socket: telemetry as this binary frame, the rest as JSON text. */
export function serializeGeneratorMessage(message: GeneratorMessage): string | Buffer {
  return message.type === 'telemetry' ? encodeTelemetryFrame(message) : JSON.stringify(message);
}
