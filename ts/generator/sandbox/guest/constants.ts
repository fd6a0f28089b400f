/**
 * What the guest code (prelude.ts, bert.ts) shares with the host, gathered from
 * the modules that define it: the guest is evaluated from its source text and
 * can import nothing, so these cross as one JSON literal in the prelude's text
 * (guest-prelude.ts), patterns as their source and flags.
 */
import { INTENDED_SUFFIX, RESERVED_COUNTER_KEYS } from '../../../shared/metrics.js';
import { DEVICE_API } from '../../../shared/script/script-source.js';
import { HTTP_TOKEN } from '../../protocols/http-grammar.js';
import { BODY, HASH_ALGORITHMS, HEADER_SEPARATOR, MESSAGE_AS, METRIC_KEY, OPERATION, OUTBOX } from '../mailbox.js';

/** A RegExp as JSON can carry it. */
export interface Pattern {
  readonly source: string;
  readonly flags: string;
}
const pattern = (r: RegExp): Pattern => ({ source: r.source, flags: r.flags });

export const GUEST_CONSTANTS = {
  operation: OPERATION,
  outbox: OUTBOX,
  messageAs: MESSAGE_AS,
  body: BODY,
  headerSeparator: HEADER_SEPARATOR,
  metricKey: pattern(METRIC_KEY),
  reservedCounterKey: pattern(new RegExp(`^(${RESERVED_COUNTER_KEYS.join('|')})$`)),
  intendedSuffix: INTENDED_SUFFIX,
  httpToken: pattern(HTTP_TOKEN),
  hashAlgorithms: HASH_ALGORITHMS,
  deviceApi: DEVICE_API,
} as const;

export type GuestConstants = typeof GUEST_CONSTANTS;
