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

/** How a received WebSocket message is handed to the script. */
export const MESSAGE_AS = { text: 't', binary: 'b', json: 'j' } as const;
export type MessageAs = (typeof MESSAGE_AS)[keyof typeof MESSAGE_AS];

/** A metric key a script names (counters, timings) and an error code it may throw to be counted under. */
export const METRIC_KEY = /^[a-z][a-z0-9_]{0,63}$/;

/** The hashes `crypto.hash` and `crypto.hmac` take. */
export const HASH_ALGORITHMS = ['sha1', 'sha256', 'sha512', 'md5'] as const;
