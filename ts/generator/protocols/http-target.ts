/**
 * What HTTP transports derive from a Target: whether it speaks TLS, the TLS server
 * name (SNI) and the Host / :authority value. Kept in one place so HTTP/1 and
 * HTTP/2 cannot disagree about them.
 */
import { isIP } from 'node:net';
import { TLS_PROTOCOLS } from '../../shared/plan.js';
import type { Target } from './device-connection.js';

export const isTlsTarget = (target: Target): boolean => TLS_PROTOCOLS.has(target.protocol);

/**
 * The SNI to send: the plan's override, else the host name the user gave. IP
 * literals are never sent (RFC 6066 3 forbids them), so an IP target sends none.
 */
export function tlsServerName(target: Target): string | undefined {
  const name = target.serverName ?? target.hostname;
  return name !== '' && isIP(name) === 0 ? name : undefined;
}

/** `hostname[:port]` as the Host header carries it; the port is left out when it is the scheme's default. */
export function authority(target: Target): string {
  const host = isIP(target.hostname) === 6 ? `[${target.hostname}]` : target.hostname;
  const defaultPort = isTlsTarget(target) ? 443 : 80;
  return target.port === defaultPort ? host : `${host}:${target.port}`;
}
