/**
 * Signed download links for report archives. A coordinator with a token guards
 * /results/ like the API, yet the URL sgcli prints must download as printed
 * (`wget $(sgcli run ...)`) and a browser link cannot carry a header. So the
 * coordinator signs each link it hands out: HMAC-SHA256 over the run id and an
 * expiry time, keyed by a key derived from the token. The token itself never
 * appears in a URL, and a link stays valid across a restart of the coordinator
 * (same token) until it expires.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { archiveUrlPath } from './api-messages.js';
import { SETTINGS } from '../shared/settings.js';

/** How long a link is valid, in seconds (`--link-expiry`). */
export const LINK_EXPIRY_ENV = SETTINGS.linkExpiry.env;
/** A week: long enough to fetch a report the day after a run, short enough that a leaked link dies. */
export const DEFAULT_LINK_EXPIRY_SECONDS = SETTINGS.linkExpiry.fallback;

/** Query parameters of a signed link. */
export const LINK_EXPIRES_PARAM = 'expires';
export const LINK_SIGNATURE_PARAM = 'signature';

/** Why a link was refused; `ok` when it admits. */
export type LinkCheck = 'ok' | 'unsigned' | 'expired' | 'invalid';

export interface DownloadLinksOptions {
  /** The coordinator's token; without one links are plain paths and nothing is checked. */
  token: string | undefined;
  expirySeconds?: number;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

export class DownloadLinks {
  private readonly key: Buffer | null;
  private readonly expirySeconds: number;
  private readonly now: () => number;

  constructor(options: DownloadLinksOptions) {
    // A key of its own, so a signature can never be replayed as anything the token signs elsewhere.
    this.key = options.token ? createHmac('sha256', options.token).update('stressgrid download links v1').digest() : null;
    this.expirySeconds = options.expirySeconds ?? DEFAULT_LINK_EXPIRY_SECONDS;
    this.now = options.now ?? Date.now;
  }

  /** Whether links are signed (the coordinator has a token). */
  get signed(): boolean {
    return this.key !== null;
  }

  /** The path of a run's archive, with an expiry and signature when the coordinator has a token. */
  path(runId: string): string {
    const path = archiveUrlPath(runId);
    if (this.key === null) return path;
    const expires = Math.floor(this.now() / 1000) + this.expirySeconds;
    const query = new URLSearchParams({ [LINK_EXPIRES_PARAM]: String(expires), [LINK_SIGNATURE_PARAM]: this.signature(this.key, runId, expires) });
    return `${path}?${query.toString()}`;
  }

  /** Checks the signature and expiry a request for `runId`'s archive carries. */
  check(runId: string, query: URLSearchParams): LinkCheck {
    if (this.key === null) return 'ok';
    const expiresText = query.get(LINK_EXPIRES_PARAM);
    const given = query.get(LINK_SIGNATURE_PARAM);
    if (expiresText === null && given === null) return 'unsigned';
    if (expiresText === null || given === null || !/^\d{1,12}$/.test(expiresText)) return 'invalid';
    const expires = Number(expiresText);
    const expected = Buffer.from(this.signature(this.key, runId, expires));
    const actual = Buffer.from(given);
    // The signature is checked before the expiry, so an altered expiry reads as altered.
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return 'invalid';
    return expires * 1000 <= this.now() ? 'expired' : 'ok';
  }

  private signature(key: Buffer, runId: string, expires: number): string {
    return createHmac('sha256', key).update(`${runId}\n${expires}`).digest('base64url');
  }
}
