/**
 * The HTTP token and field-value grammar, byte by byte against RFC 9110's
 * definitions, and the guest's header check built from the same token.
 */
import test from 'ava';
import { HTTP_FIELD_VALUE, HTTP_METHODS, HTTP_TOKEN, isHttpMethod } from '../../ts/generator/protocols/http-grammar.js';
import { GUEST_CONSTANTS } from '../../ts/generator/sandbox/guest/constants.js';
import { guestPrelude } from '../../ts/generator/sandbox/guest/prelude.js';

/** RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
const TCHAR = new Set([..."!#$%&'*+-.^_`|~0123456789", ...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ']);

test('a token is one or more tchar, and every other latin1 character is refused', (t) => {
  for (let code = 0; code < 256; code++) {
    const c = String.fromCharCode(code);
    t.is(HTTP_TOKEN.test(c), TCHAR.has(c), `U+${code.toString(16).padStart(4, '0')}`);
    t.is(HTTP_TOKEN.test(`x${c}y`), TCHAR.has(c));
  }
  t.false(HTTP_TOKEN.test(''));
});

test('a field value takes visible ASCII, space, tab and obs-text, never CR, LF, NUL or other controls', (t) => {
  for (let code = 0; code < 0x200; code++) {
    const allowed = code === 9 || (code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
    t.is(HTTP_FIELD_VALUE.test(`a${String.fromCharCode(code)}b`), allowed, `U+${code.toString(16).padStart(4, '0')}`);
  }
});

test('the methods are tokens, and only they are methods', (t) => {
  for (const method of HTTP_METHODS) t.true(HTTP_TOKEN.test(method) && isHttpMethod(method));
  t.false(isHttpMethod('get'));
  t.false(isHttpMethod('CONNECT'));
});

test('the guest checks header names with the same token', (t) => {
  t.is(new RegExp(GUEST_CONSTANTS.httpToken.source, GUEST_CONSTANTS.httpToken.flags).toString(), HTTP_TOKEN.toString());
  t.true(guestPrelude.toString().includes('const TOKEN = new RegExp(C.httpToken.source, C.httpToken.flags);'));
});
