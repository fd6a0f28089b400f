/**
 * Turns whatever Node (node:net, node:tls) or OpenSSL raised into a DeviceError with a
 * stable code, so a failure is counted under the same `<code>_error_count` no
 * matter which transport produced it. The original message is kept, and the
 * original error is the cause.
 */
import { DEVICE_ERROR, DeviceError, type DeviceErrorCode } from '../../shared/errors.js';

/** Where the error happened: a timeout while connecting is `conn_timedout`, later it is `timeout`. */
export type ErrorPhase = 'connect' | 'request';

const BY_CODE: ReadonlyMap<string, DeviceErrorCode> = new Map<string, DeviceErrorCode>([
  ['ECONNREFUSED', DEVICE_ERROR.connRefused],
  ['ECONNRESET', DEVICE_ERROR.connReset],
  ['EPIPE', DEVICE_ERROR.connReset],
  ['ECONNABORTED', DEVICE_ERROR.connReset],
  ['EMFILE', DEVICE_ERROR.tooManyOpenFiles],
  ['ENFILE', DEVICE_ERROR.tooManyOpenFiles],
  ['ENOTFOUND', DEVICE_ERROR.nxDomain],
  ['EAI_AGAIN', DEVICE_ERROR.nxDomain],
  ['EAI_NONAME', DEVICE_ERROR.nxDomain],
  ['EAI_NODATA', DEVICE_ERROR.nxDomain],
  ['EAI_FAIL', DEVICE_ERROR.nxDomain],
  ['ERR_SOCKET_CLOSED', DEVICE_ERROR.closed],
  ['ERR_STREAM_DESTROYED', DEVICE_ERROR.closed],
  ['ERR_STREAM_PREMATURE_CLOSE', DEVICE_ERROR.closed],
  ['ERR_HTTP2_PROTOCOL_ERROR', DEVICE_ERROR.protocol],
]);

/**
 * OpenSSL certificate-verification codes Node puts on `err.code`; they carry no
 * common prefix, so they are listed (the set of `X509_V_ERR_*` Node exposes).
 */
const TLS_VERIFY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'OUT_OF_MEM',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

const isTlsError = (code: string, err: { library?: unknown }): boolean => TLS_VERIFY_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || err.library === 'SSL routines';

const isTimeout = (code: string): boolean => code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT';

/** The stable code for `err`, or `unknown`. */
export function deviceErrorCode(err: unknown, phase: ErrorPhase = 'request'): DeviceErrorCode {
  if (err instanceof DeviceError) return err.code;
  if (typeof err !== 'object' || err === null) return DEVICE_ERROR.unknown;
  const e = err as { code?: unknown; library?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const known = BY_CODE.get(code);
  if (known !== undefined) return known;
  if (isTimeout(code)) return phase === 'connect' ? DEVICE_ERROR.connTimedout : DEVICE_ERROR.timeout;
  if (isTlsError(code, e)) return DEVICE_ERROR.tls;
  return DEVICE_ERROR.unknown;
}

/** `err` as a DeviceError: itself when it already is one, else wrapped with its message and as cause. */
export function toDeviceError(err: unknown, phase: ErrorPhase = 'request'): DeviceError {
  if (err instanceof DeviceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DeviceError(deviceErrorCode(err, phase), message, { cause: err });
}
