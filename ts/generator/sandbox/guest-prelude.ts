/**
 * The guest prelude's text, as the host evaluates it once per context: a
 * function expression that the host calls with its host functions and the
 * plan's params as JSON, and that returns the mailbox. The guest code itself
 * is ordinary TypeScript in guest/ (type-checked and linted with the rest);
 * its functions' source text is put together here with the constants they
 * share with the host (guest/constants.ts) as one literal.
 */
import { guestBert } from './guest/bert.js';
import { guestBytes } from './guest/bytes.js';
import { GUEST_CONSTANTS } from './guest/constants.js';
import { guestPrelude } from './guest/prelude.js';

export const GUEST_PRELUDE = `((host, paramsJson) => (${guestPrelude.toString()})(host, paramsJson, ${JSON.stringify(GUEST_CONSTANTS)}, {
  makeBytes: ${guestBytes.toString()},
  makeBert: ${guestBert.toString()},
}))`;
