/**
 * The management API as the website calls it. The optional token is asked for
 * once, on the first 401, and kept in sessionStorage for this tab: requests send
 * it as `Authorization: Bearer`; the live WebSocket, which cannot carry that
 * header, offers it as a subprotocol. It never goes in a URL: download links
 * come from the coordinator already signed.
 */

const TOKEN_KEY = 'stressgrid-token';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `the coordinator answered ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? 'unknown';
    /** Every problem of a refused plan, each with its field path. */
    this.problems = body?.problems ?? [];
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY) ?? '';

/** Set when the user cancelled the prompt: the site stops asking until they choose to (askForToken from the header). */
let declined = false;

/** Fired on window when a request needs the token the user declined to give. */
export const TOKEN_NEEDED_EVENT = 'stressgrid-token-needed';

/** Asks for the token; false when the user cancelled. */
export function askForToken(again = false) {
  const given = window.prompt(again ? 'That token was refused. Enter the coordinator\u2019s token (STRESSGRID_TOKEN):' : 'This coordinator needs its token (STRESSGRID_TOKEN):', '');
  if (given === null || given.trim() === '') {
    declined = true;
    return false;
  }
  declined = false;
  sessionStorage.setItem(TOKEN_KEY, given.trim());
  return true;
}

/** Calls the API; resolves with the parsed JSON (undefined for 204), rejects with ApiError. */
export async function api(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const sent = token();
    const headers = {};
    if (sent) headers.authorization = `Bearer ${sent}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    // Requests in flight together all meet the 401: only the first asks; the rest retry with its answer.
    if (response.status === 401 && attempt < 3 && (token() !== sent || (!declined && askForToken(sent !== '')))) continue;
    if (response.status === 401 && declined) window.dispatchEvent(new Event(TOKEN_NEEDED_EVENT));
    if (response.status === 204) return undefined;
    const parsed = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }
}

/** The live stream's WebSocket URL on this same host. */
export function liveUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/live`;
}

/** The live stream's subprotocols: its own, and the token (base64url) when there is one (token-auth.ts). */
export function liveProtocols() {
  const t = token();
  if (!t) return ['stressgrid-live'];
  const base64url = btoa(String.fromCharCode(...new TextEncoder().encode(t)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return ['stressgrid-live', `stressgrid-token.${base64url}`];
}
