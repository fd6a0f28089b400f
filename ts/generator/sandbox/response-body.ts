/**
 * How a response body reaches the script: parsed JSON for JSON content types,
 * a decoded term for BERT (`application/x-bert`, decoded by the guest), a string
 * for textual ones, bytes for everything else. The result is a
 * fragment of the JSON envelope the sandbox hands the guest, so JSON bodies are
 * inlined as they came (after a validity check) instead of being parsed and
 * serialised again.
 */
import { BODY, HEADER_SEPARATOR } from './mailbox.js';

export type BodyKind = 'json' | 'bert' | 'text' | 'bytes';

/** Content types of BERT bodies: BERT-RPC's own, and the name some servers use. */
const BERT_TYPES = new Set(['application/x-bert', 'application/bert']);

const TEXTUAL_APPLICATION = new Set([
  'application/xml',
  'application/javascript',
  'application/ecmascript',
  'application/x-javascript',
  'application/x-www-form-urlencoded',
  'application/graphql',
  'application/yaml',
  'application/x-yaml',
]);

export function bodyKind(headers: ReadonlyArray<readonly [string, string]>): BodyKind {
  const header = headers.find(([name]) => name.toLowerCase() === 'content-type');
  if (header === undefined) return 'bytes';
  const type = header[1].split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (BERT_TYPES.has(type)) return 'bert';
  if (type.startsWith('text/') || type.endsWith('+xml') || TEXTUAL_APPLICATION.has(type)) return 'text';
  return 'bytes';
}

const utf8 = new TextDecoder('utf-8');

/** A response as the guest decodes it: `status,headers,kind,body` (the caller closes the entry). */
export function responseFragment(r: { status: number; headers: ReadonlyArray<readonly [string, string]>; body: Uint8Array }, binary: BinaryParts): string {
  return `${r.status},${headersFragment(r.headers)},${bodyFragment(r.headers, r.body, binary)}`;
}

/** Headers as one JSON string split by HEADER_SEPARATOR (mailbox.ts), or as the pairs when one holds it. */
export function headersFragment(headers: ReadonlyArray<readonly [string, string]>): string {
  let flat = '';
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name.includes(HEADER_SEPARATOR) || value.includes(HEADER_SEPARATOR)) return JSON.stringify(headers);
    flat += i === 0 ? name + HEADER_SEPARATOR + value : HEADER_SEPARATOR + name + HEADER_SEPARATOR + value;
  }
  return JSON.stringify(flat);
}

/**
 * The `[kind, value]` tail of a response entry. Binary bodies are appended to
 * `binary` and referenced by offset; `binary.length` grows accordingly.
 * A JSON content type with an unparsable body degrades to text, so the script
 * still sees what the server sent.
 */
export function bodyFragment(headers: ReadonlyArray<readonly [string, string]>, body: Uint8Array, binary: BinaryParts): string {
  const kind = bodyKind(headers);
  if (kind === 'bytes') return `"${BODY.bytes}",[${binary.append(body)},${body.byteLength}]`;
  if (kind === 'bert') return `"${BODY.bert}",[${binary.append(body)},${body.byteLength}]`;
  const text = utf8.decode(body);
  if (kind === 'json') {
    try {
      JSON.parse(text);
      return `"${BODY.json}",${text}`;
    } catch {
      // not JSON after all: hand over the text
    }
  }
  return `"${BODY.text}",${JSON.stringify(text)}`;
}

/** Byte payloads of one envelope, concatenated so they cross into the guest as one ArrayBuffer. */
export class BinaryParts {
  private parts: Uint8Array[] = [];
  private length = 0;

  get byteLength(): number {
    return this.length;
  }

  /** Returns the offset at which `bytes` will sit. */
  append(bytes: Uint8Array): number {
    const offset = this.length;
    if (bytes.byteLength > 0) {
      this.parts.push(bytes);
      this.length += bytes.byteLength;
    }
    return offset;
  }

  /** Everything appended so far as one buffer; empties the collection. */
  take(): Uint8Array {
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    return all;
  }
}
