/**
 * Turns the plan's addresses into the targets devices connect to. A host name
 * becomes one target per address it resolves to (IPv4 and IPv6), so devices
 * taking targets round-robin spread over every address, as the seed did.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { ResolvedPlan } from '../../shared/plan.js';
import type { Target } from './device-connection.js';

type PlanAddress = ResolvedPlan['addresses'][number];

/** Every target of `addresses`, in plan order; rejects with `nx_domain` naming the first host that does not resolve. */
export async function resolveTargets(addresses: ResolvedPlan['addresses']): Promise<Target[]> {
  const perAddress = await Promise.all(addresses.map(resolveAddress));
  return perAddress.flat();
}

async function resolveAddress(address: PlanAddress): Promise<Target[]> {
  const ips = isIP(address.host) !== 0 ? [address.host] : await lookupAll(address.host);
  return ips.map((ip) => ({
    ip,
    port: address.port,
    protocol: address.protocol,
    hostname: address.host,
    ...(address.serverName !== undefined ? { serverName: address.serverName } : {}),
    verifyTls: address.verifyTls,
  }));
}

async function lookupAll(host: string): Promise<string[]> {
  let found: Array<{ address: string }>;
  try {
    found = await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DeviceError(DEVICE_ERROR.nxDomain, `host ${host} does not resolve: ${reason}`, { cause: err });
  }
  if (found.length === 0) throw new DeviceError(DEVICE_ERROR.nxDomain, `host ${host} does not resolve to any address`);
  // The resolver may list one address once per socket type; a target is an address.
  return [...new Set(found.map((entry) => entry.address))];
}
