/**
 * Globals of a Stressgrid device script.
 *
 * A script is the BODY of an async function: use `await` at the top level and
 * `return` to end the device (it is then recycled with a new connection). In
 * an arrival-rate block (`arrivalRate` or `stages`) one run of the body is one
 * iteration, started on schedule by a device of the block's pool
 * (`maxDevices`), which keeps its connection for its next iteration.
 * Scripts run in strict mode inside QuickJS; there is no `require`, `process`,
 * `import()`, timers, console or network except the functions below, which
 * reach only the plan's targets. Every device of a script on a worker shares
 * one JavaScript context: keep per-device state in local variables, not on
 * `globalThis`.
 *
 * Failures reject with an `Error` whose `code` is the metric kind
 * (`conn_refused`, `timeout`, `bad_argument`, ...). An uncaught error ends the
 * device and counts `<code>_error_count`; a thrown value with its own string
 * `code` matching /^[a-z][a-z0-9_]{0,63}$/ is counted under that code,
 * anything else under `script`. Runaway CPU (`cpu_limit`), allocations past the
 * memory cap (`memory_limit`) and runaway recursion (`stack_overflow`) end
 * only the offending device.
 *
 * Reference this file with `/// <reference path="stressgrid-script.d.ts" />`
 * or list it in your editor's jsconfig/tsconfig `files`, with `"types": []`
 * and `"lib": ["es2023"]` so Node's and the DOM's globals (their own `crypto`)
 * stay out.
 */

/** An error raised by a Stressgrid function; `code` is the metric kind it counts under. */
interface StressgridError extends Error {
  readonly code: string;
}

/** Request headers: an object, or `[name, value]` pairs (repeatable names). Numbers and booleans become strings. */
type StressgridHeaders = Record<string, string | number | boolean> | ReadonlyArray<readonly [string, string | number | boolean]>;

/** A body made by `json(value)`: serialised as JSON, with `content-type: application/json` unless given. */
interface StressgridJsonBody {
  readonly value: unknown;
}

/** A body made by `bert(value)`: encoded as a BERT term, with `content-type: application/x-bert` unless given. */
interface StressgridBertBody {
  readonly value: unknown;
}

/** A request body: text (sent as UTF-8), bytes, `json(value)` or `bert(value)`. */
type StressgridBody = string | Uint8Array | ArrayBuffer | ArrayBufferView | StressgridJsonBody | StressgridBertBody;

interface StressgridResponse {
  status: number;
  /** Lower-case names, in the order received. */
  headers: Array<[string, string]>;
  /**
   * Parsed JSON for `application/json` and `*+json` (the text when it does not
   * parse), the decoded term for `application/x-bert` (the bytes when it does
   * not decode), a string for `text/*`, XML, JavaScript and form types,
   * otherwise the raw bytes.
   */
  body: any;
  /** True when `body` was parsed from JSON (so a JSON string is told from a text body). */
  json: boolean;
  /** True when `body` was decoded from BERT. */
  bert: boolean;
}

/** GET `path` (like `/search?q=1`) on the device's connection. */
declare function get(path: string, headers?: StressgridHeaders): Promise<StressgridResponse>;
/** HEAD `path`; the body is empty. */
declare function head(path: string, headers?: StressgridHeaders): Promise<StressgridResponse>;
/** OPTIONS `path`. */
declare function options(path: string, headers?: StressgridHeaders): Promise<StressgridResponse>;
/** DELETE `path` (`delete` is a reserved word). */
declare function del(path: string, headers?: StressgridHeaders): Promise<StressgridResponse>;
/** POST `body` to `path`. */
declare function post(path: string, headers?: StressgridHeaders, body?: StressgridBody): Promise<StressgridResponse>;
/** PUT `body` to `path`. */
declare function put(path: string, headers?: StressgridHeaders, body?: StressgridBody): Promise<StressgridResponse>;
/** PATCH `body` to `path`. */
declare function patch(path: string, headers?: StressgridHeaders, body?: StressgridBody): Promise<StressgridResponse>;

/** The answer to a `wsUpgrade`, as the original's `{status, headers, body}`. */
interface StressgridUpgrade {
  /** 101 (HTTP/1.1) or 200 (HTTP/2 extended CONNECT) when upgraded; on a refusal, the server's status. */
  status: number;
  /** Lower-case names, in the order received. */
  headers: Array<[string, string]>;
  /** Empty when upgraded; on a refusal, the server's body, typed like a response body. */
  body: any;
}

/**
 * Upgrades the device's connection to WebSocket with a GET of `path` on
 * HTTP/1.x targets, or an extended CONNECT (RFC 8441) on HTTP/2 targets that
 * announce it (records `ws_upgrade_us`). Resolves with the server's answer
 * whatever it was: any status but 101 (200 on HTTP/2) leaves the connection as it
 * was, and its body says why. Rejects with `ws_unsupported` on HTTP/2 targets that
 * do not announce extended CONNECT, `ws_upgraded` when already upgraded. Afterwards
 * HTTP functions reject with `ws_upgraded`; before it the other ws functions
 * reject with `ws_not_upgraded`.
 */
declare function wsUpgrade(path: string, headers?: StressgridHeaders): Promise<StressgridUpgrade>;
/** Sends a text message (records `ws_sent_frames_count`, `ws_sent_bytes_count`); rejects with `closed` once the WebSocket closed. */
declare function wsSendText(text: string): Promise<void>;
/** Sends a binary message (a string goes as its UTF-8 bytes). */
declare function wsSendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView | string): Promise<void>;
/** Sends `JSON.stringify(value)` as a text message. */
declare function wsSendJson(value: unknown): Promise<void>;
/**
 * The next message as text (binary messages decoded as UTF-8), waiting up to
 * `timeoutMs` (default 5000; then rejects with `timeout`). Rejects with
 * `closed` once the server closed and no message is left.
 */
declare function wsReceiveText(timeoutMs?: number): Promise<string>;
/** The next message as bytes (text messages as their UTF-8 bytes); waits like `wsReceiveText`. */
declare function wsReceiveBinary(timeoutMs?: number): Promise<Uint8Array>;
/** The next message parsed as JSON (rejects with `protocol` when it is not JSON); waits like `wsReceiveText`. */
declare function wsReceiveJson(timeoutMs?: number): Promise<any>;
/** The next buffered message as text, or `null` when none has arrived; never waits. */
declare function wsFetchText(): string | null;
/** The next buffered message as bytes, or `null`; never waits. */
declare function wsFetchBinary(): Uint8Array | null;
/** The next buffered message parsed as JSON, or `null`; never waits (throws `protocol` when it is not JSON). */
declare function wsFetchJson(): any;

/**
 * TCP: writes `data` to the device's connection; UDP: sends it as one datagram
 * (at most 65,507 bytes). A string is sent as its UTF-8 bytes; at most 1 MiB per
 * send. Resolves once the kernel has taken every byte; counts `send_count` (and
 * the bytes in `socket_sent_bytes_count`).
 * `protocol: "tcp"` or `"udp"` only.
 */
declare function send(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): Promise<void>;
/**
 * TCP: the bytes that have arrived (at least one, at most 64 KiB; a reply may
 * come in several); UDP: the next datagram. Waits up to `timeoutMs`, then rejects
 * with code `timeout`; counts `receive_count` (and the bytes in
 * `socket_received_bytes_count`).
 */
declare function recv(timeoutMs?: number): Promise<Uint8Array>;

/** Marks `value` to be sent as JSON. */
declare function json(value: unknown): StressgridJsonBody;

/** An Erlang atom; `bert.atom(name)` returns the same object for the same name. */
interface StressgridAtom {
  readonly name: string;
}

/**
 * Marks `value` to be sent as a BERT term (Erlang's external term format,
 * bert-rpc.org). JavaScript to term: a safe-integer number or BigInt is an
 * integer, another number a float, a string a binary (UTF-8), a Uint8Array a
 * binary, an Array a list, `bert.tuple(...)` a tuple, `bert.atom(name)` an atom,
 * a plain object a map with binary keys, a Map a map, `true`/`false`/`null`
 * BERT's `{bert, true}`/`{bert, false}`/`{bert, nil}`, a Date `{bert, time, ...}`,
 * `bert.dict(...)` `{bert, dict, [...]}`. Decoding is the inverse; a binary that
 * is not UTF-8 is a Uint8Array, a map with other than string keys is a Map, an
 * integer past 2^53 a BigInt, the atoms `true` and `false` booleans.
 */
declare const bert: {
  (value: unknown): StressgridBertBody;
  /** The term's bytes (starting 131). Throws `bad_argument` for a value with no term. */
  encode(value: unknown): Uint8Array;
  /** The value of a term's bytes. Throws `protocol` for malformed or unsupported terms (pids, refs, funs). */
  decode(bytes: Uint8Array): any;
  atom(name: string): StressgridAtom;
  /** A tuple: an array that encodes as a tuple (decoded tuples are these too). */
  tuple(...items: unknown[]): readonly unknown[];
  /** BERT's dictionary `{bert, dict, [{Key, Value}]}` (decoded as a Map). */
  dict(entries: Map<unknown, unknown> | Record<string, unknown>): unknown;
  readonly Atom: abstract new (...args: never) => StressgridAtom;
  readonly Tuple: abstract new (...args: never) => readonly unknown[];
};

/**
 * Starts the timer `key` (metric `<key>_us`) as the device's next operation leaves the generator;
 * key must match /^[a-z][a-z0-9_]{0,63}$/.
 * In an arrival-rate block (`arrivalRate` or `stages` in the plan), where each run
 * of the script is one iteration started on schedule, stopping it also records
 * `<key>_intended_us`: the time from when the iteration was due to the stop, so
 * waiting for a free device or behind a stalled target is not hidden.
 */
declare function startTiming(key: string): void;
/**
 * Stops the timer `key` at the moment the device's latest awaited outcome (response, message, end of a delay)
 * arrived, and records the elapsed microseconds into `<key>_us`; throws `bad_argument` if it was not started.
 */
declare function stopTiming(key: string): void;
/** Stops `stopKey` and starts `startKey`, with no time between them lost. */
declare function stopStartTiming(stopKey: string, startKey: string): void;
/** Adds `value` (default 1), a non-negative integer (else `bad_argument`), to the counter `<key>_count` (and `<key>_per_second`). */
declare function incCounter(key: string, value?: number): void;

/**
 * Waits `ms · (1 + randomRatio · (2U − 1))` milliseconds, U uniform in [0, 1):
 * `delay(1000, 0.1)` waits 900 to 1100 ms. `randomRatio` is from 0 (default) to 1.
 * A wait of a second or more may end up to 10 ms late, so that devices waking close together share a turn.
 */
declare function delay(ms: number, randomRatio?: number): Promise<void>;

/** `n` random bits as big-endian bytes: `ceil(n / 8)` bytes, the unused high bits of the first byte zero. */
declare function randomBits(n: number): Uint8Array;
/** `n` random bytes (at most 1 MiB) from the host's cryptographic generator. */
declare function randomBytes(n: number): Uint8Array;

declare const base64: {
  /** Base64 of bytes (strings are encoded as UTF-8 first). `url` uses `-_`; `padding` defaults to true. */
  encode(data: Uint8Array | string, options?: { url?: boolean; padding?: boolean }): string;
  /** Decodes with or without padding; `url` expects the `-_` alphabet. Throws `bad_argument` on invalid input. */
  decode(data: string, options?: { url?: boolean }): Uint8Array;
};

declare const hex: {
  /** Lower-case hexadecimal of bytes (strings as UTF-8). */
  encode(data: Uint8Array | string): string;
  /** Accepts either case; throws `bad_argument` on odd length or a non-hex digit. */
  decode(data: string): Uint8Array;
};

declare const text: {
  /** UTF-8 bytes of `s`. */
  encode(s: string): Uint8Array;
  /** UTF-8 decoding; invalid sequences become U+FFFD. */
  decode(bytes: Uint8Array): string;
};

type StressgridHash = 'sha1' | 'sha256' | 'sha512' | 'md5';

declare const crypto: {
  /** Digest of `data` (strings as UTF-8). */
  hash(algorithm: StressgridHash, data: Uint8Array | string): Uint8Array;
  /** HMAC of `data` under `key` (strings as UTF-8). */
  hmac(algorithm: StressgridHash, key: Uint8Array | string, data: Uint8Array | string): Uint8Array;
};

/** The block's `params` from the plan, deep-frozen and shared by all devices of the block. */
declare const params: any;
