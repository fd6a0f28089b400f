/**
 * The mailbox between the guest prelude and the host, defined once: the prelude
 * (guest/prelude.ts) receives these constants as one literal in its text
 * (guest/constants.ts), and the host (script-sandbox.ts and the *-operations.ts
 * modules) reads the outbox and answers by them.
 *
 * An outbox line is `<tag>,<opId>,<deviceId>,<rest>`: for OPERATION.delay rest is
 * the delay in ms, for OPERATION.plainRequest `METHOD,path` of a request without
 * headers or body, for any other operation its payload as JSON. Other lines
 * (OUTBOX) carry what is not an operation: a binary side buffer, ended and
 * failed devices, counters and timings.
 */

/** Operation kinds, each the tag of its outbox line. */
export const OPERATION = {
  delay: 'd',
  /** A request without headers or body, sent as text: the common case, spared JSON. */
  plainRequest: 'H',
  request: 'h',
  wsUpgrade: 'wu',
  wsSend: 'ws',
  wsReceive: 'wr',
  socketSend: 'ts',
  socketRecv: 'tr',
} as const;
export type OperationKind = (typeof OPERATION)[keyof typeof OPERATION];

/** Outbox lines that are not operations. */
export const OUTBOX = {
  /** A binary side buffer waits in takeBinary. */
  binary: 'B',
  /** `E,<id>`: a device's body returned. */
  ended: 'E',
  /** `F,<id>,<JSON [code, message]>`: a device's body failed. */
  failed: 'F',
  /** `C,<key>,<n>`: a counter. */
  count: 'C',
  /** `T,<key>,<µs>`: a timing. */
  timing: 'T',
} as const;

/**
 * Tags of a body or message as it crosses, either way: text, bytes (offset and
 * length in the binary side buffer), and host to guest only, JSON inlined as it
 * came and BERT bytes for the guest to decode.
 */
export const BODY = { text: 's', bytes: 'b', json: 'j', bert: 'e' } as const;
/** A body or message the guest sends: [BODY.text, text] or [BODY.bytes, offset, length]. */
export type SentBody = [typeof BODY.text, string] | [typeof BODY.bytes, number, number];

/**
 * Response headers cross as one JSON string, names and values joined by this
 * separator (which neither may contain: HTTP/1 ends a field at a line break and
 * HTTP/2 refuses one), and the guest splits it only when a script reads
 * `headers`: most never do, and parsing eight pairs cost more than the rest of
 * the response. Headers that do contain it cross as the array of pairs.
 */
export const HEADER_SEPARATOR = '\n';

/**
 * A turn's results as they cross into the guest: one index line of
 * `opId,sentUs,atUs,length` for each result, then the values back to back, each
 * the JSON text of what the operation resolves with (`length` UTF-16 units), or
 * of `[code, message]` for a failure (`-length`); 0 is an operation done with no
 * value (a delay's end). The guest routes each result by its index entry and
 * parses a value only when it wakes the result's device, so what a response
 * allocates in the guest is that device's own, counted against its memory cap.
 */
export class ResultBatch {
  private heads: string[] = [];
  private values: string[] = [];

  get length(): number {
    return this.heads.length;
  }

  /** Done with no value. Timestamps are µs: when the operation left the host, when its outcome was seen. */
  done(opId: number, sentUs: number, atUs: number): void {
    this.heads.push(`${opId},${sentUs},${atUs},0`);
  }

  /** Resolved with `json`, a JSON value's text. */
  value(opId: number, sentUs: number, atUs: number, json: string): void {
    this.heads.push(`${opId},${sentUs},${atUs},${json.length}`);
    this.values.push(json);
  }

  /** Rejected with a device error. */
  failed(opId: number, sentUs: number, atUs: number, code: string, message: string): void {
    const json = JSON.stringify([code, message]);
    this.heads.push(`${opId},${sentUs},${atUs},-${json.length}`);
    this.values.push(json);
  }

  /** The text of every result so far; empties the batch. */
  take(): string {
    const text = `${this.heads.join(',')}\n${this.values.join('')}`;
    this.heads = [];
    this.values = [];
    return text;
  }
}

/** How a received WebSocket message is handed to the script. */
export const MESSAGE_AS = { text: 't', binary: 'b', json: 'j' } as const;
export type MessageAs = (typeof MESSAGE_AS)[keyof typeof MESSAGE_AS];

/** A metric key a script names (counters, timings) and an error code it may throw to be counted under. */
export const METRIC_KEY = /^[a-z][a-z0-9_]{0,63}$/;

/** The hashes `crypto.hash` and `crypto.hmac` take. */
export const HASH_ALGORITHMS = ['sha1', 'sha256', 'sha512', 'md5'] as const;
