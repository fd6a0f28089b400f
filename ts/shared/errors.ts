/**
 * Stable error codes a device failure is counted under (`<code>_error_count`).
 * A script sees them as `err.code` on the rejected promise.
 */
export const DEVICE_ERROR = Object.freeze({
  /** Nothing listens on the target port. */
  connRefused: 'conn_refused',
  /** The peer reset the connection. */
  connReset: 'conn_reset',
  /** Connecting took longer than the connect timeout. */
  connTimedout: 'conn_timedout',
  /** The connection was closed (by the peer or the device) while in use. */
  closed: 'closed',
  /** The target host name does not resolve. */
  nxDomain: 'nx_domain',
  /** A request or receive got no answer in time. */
  timeout: 'timeout',
  /** TLS handshake or certificate failure. */
  tls: 'tls',
  /** The peer broke the protocol (malformed HTTP, bad frame). */
  protocol: 'protocol',
  /** A host function was called with bad arguments by the script. */
  badArgument: 'bad_argument',
  /** The script threw something that carries no code of its own. */
  script: 'script',
  /** The script ran past its CPU budget and was interrupted. */
  cpuLimit: 'cpu_limit',
  /** The script's runtime ran out of its memory cap. */
  memoryLimit: 'memory_limit',
  /** The guest stack overflowed (runaway recursion). */
  stackOverflow: 'stack_overflow',
  /** A function for another protocol was called (say `send` on an HTTP device). */
  wrongProtocol: 'wrong_protocol',
  /** An HTTP verb after `wsUpgrade`: the connection now speaks WebSocket. */
  wsUpgraded: 'ws_upgraded',
  /** A `ws*` function before a successful `wsUpgrade`. */
  wsNotUpgraded: 'ws_not_upgraded',
  /** The server answered the upgrade request with a status other than 101. */
  wsUpgradeRefused: 'ws_upgrade_refused',
  /** `wsUpgrade` on an HTTP/2 target that does not announce extended CONNECT (RFC 8441). */
  wsUnsupported: 'ws_unsupported',
  /** The generator reached its open-file limit (EMFILE) or the system's (ENFILE): raise `ulimit -n`. */
  tooManyOpenFiles: 'too_many_open_files',
  /** Anything else the transport raised that has no code above. */
  unknown: 'unknown',
});

/** The codes of a script that passed one of its block's limits (not a fault of the target or the network). */
export const LIMIT_ERRORS: ReadonlySet<string> = new Set([DEVICE_ERROR.cpuLimit, DEVICE_ERROR.memoryLimit, DEVICE_ERROR.stackOverflow]);

export type DeviceErrorCode = (typeof DEVICE_ERROR)[keyof typeof DEVICE_ERROR] | (string & {});

/** An error a device counts under `code`; host functions reject with it. */
export class DeviceError extends Error {
  readonly code: DeviceErrorCode;
  constructor(code: DeviceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeviceError';
    this.code = code;
  }
}
