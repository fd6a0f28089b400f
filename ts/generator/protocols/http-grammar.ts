/**
 * The HTTP grammar the generator holds requests and responses to, defined once:
 * the script API checks header names with it in the guest, the request check
 * before a byte is written, and the HTTP/1 response parser what servers send.
 */

/** RFC 9110 5.6.2 token: a header field name, a method, a chunk extension's name. */
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
export const HTTP_TOKEN = new RegExp(`^${TOKEN}$`);

/** RFC 9110 5.6.4 quoted-string: qdtext and quoted pairs between double quotes. */
const QUOTED_STRING = String.raw`"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x20-\x7e\x80-\xff])*"`;

/**
 * RFC 9112 7.1.1 chunk extensions, all of them (from the first `;`): `;name` or `;name=value`, the value a token
 * or a quoted string. As llhttp: spaces around `;` and `=` but no tabs, and an empty value is taken.
 */
export const HTTP_CHUNK_EXTENSIONS = new RegExp(`^(?: *; *${TOKEN}(?: *= *(?:${TOKEN}|${QUOTED_STRING})?)?)* *$`);

/** RFC 9110 5.5 field value as a request may carry it: visible ASCII, space, tab and obs-text (latin1); no CR, LF or NUL. */
export const HTTP_FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The methods a script sends (`get`, `head`, `options`, `del`, `post`, `put`, `patch`). */
export const HTTP_METHODS = ['GET', 'HEAD', 'OPTIONS', 'DELETE', 'POST', 'PUT', 'PATCH'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

const METHODS: ReadonlySet<string> = new Set(HTTP_METHODS);
export const isHttpMethod = (method: string): method is HttpMethod => METHODS.has(method);
