/**
 * Bytes and text for scripts, inside the guest: UTF-8 (`text`), base64 and hex,
 * and the reading of a script's data argument as bytes. Guest code like the
 * prelude (see prelude.ts): its text is evaluated in QuickJS, so it refers to
 * nothing outside itself but the language's globals. The prelude calls it once
 * per context with its bad-argument error.
 */

/** What guestBytes returns. */
export type GuestBytes = ReturnType<typeof guestBytes>;

export function guestBytes(bad: (message: string) => Error) {
  'use strict';
  const apply = Reflect.apply;
  const fromCharCode = String.fromCharCode;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- ArrayBuffer.isView reads no `this`
  const isView = ArrayBuffer.isView;
  const U8 = Uint8Array,
    AB = ArrayBuffer;

  function options(o: unknown, fn: string): { url?: unknown; padding?: unknown } {
    if (o === undefined || o === null) return {};
    if (typeof o !== 'object') throw bad(fn + ': options must be an object');
    return o;
  }

  function utf8Encode(s: string): Uint8Array {
    const out = new U8(s.length * 3);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        out[n++] = c;
        continue;
      }
      if (c < 0x800) {
        out[n++] = 0xc0 | (c >> 6);
        out[n++] = 0x80 | (c & 63);
        continue;
      }
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          out[n++] = 0xf0 | (c >> 18);
          out[n++] = 0x80 | ((c >> 12) & 63);
          out[n++] = 0x80 | ((c >> 6) & 63);
          out[n++] = 0x80 | (c & 63);
          continue;
        }
      }
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    }
    return out.slice(0, n);
  }

  function codesToString(codes: number[], n: number): string {
    let s = '';
    for (let i = 0; i < n; i += 8192) s += apply(fromCharCode, null, codes.slice(i, Math.min(n, i + 8192)));
    return s;
  }

  const cont = (b: Uint8Array, i: number) => (b[i]! & 0xc0) === 0x80;
  function utf8Decode(b: Uint8Array): string {
    const codes = new Array<number>(b.length);
    let n = 0;
    for (let i = 0; i < b.length;) {
      const c = b[i]!;
      let cp = 0xfffd,
        len = 1;
      if (c < 0x80) cp = c;
      else if (c >= 0xc2 && c < 0xe0) {
        if (i + 1 < b.length && cont(b, i + 1)) {
          cp = ((c & 31) << 6) | (b[i + 1]! & 63);
          len = 2;
        }
      } else if (c >= 0xe0 && c < 0xf0) {
        if (i + 2 < b.length && cont(b, i + 1) && cont(b, i + 2)) {
          const v = ((c & 15) << 12) | ((b[i + 1]! & 63) << 6) | (b[i + 2]! & 63);
          if (v >= 0x800 && (v < 0xd800 || v >= 0xe000)) {
            cp = v;
            len = 3;
          }
        }
      } else if (c >= 0xf0 && c < 0xf5) {
        if (i + 3 < b.length && cont(b, i + 1) && cont(b, i + 2) && cont(b, i + 3)) {
          const v = ((c & 7) << 18) | ((b[i + 1]! & 63) << 12) | ((b[i + 2]! & 63) << 6) | (b[i + 3]! & 63);
          if (v >= 0x10000 && v < 0x110000) {
            cp = v;
            len = 4;
          }
        }
      }
      i += len;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        codes[n++] = 0xd800 + (cp >> 10);
        codes[n++] = 0xdc00 + (cp & 1023);
      } else codes[n++] = cp;
    }
    return codesToString(codes, n);
  }

  function toBytes(v: unknown, what: string): Uint8Array {
    if (typeof v === 'string') return utf8Encode(v);
    if (v instanceof U8) return v;
    if (v instanceof AB) return new U8(v);
    if (isView(v)) return new U8(v.buffer, v.byteOffset, v.byteLength);
    throw bad(what + ' must be a string or a Uint8Array');
  }

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const B64_STD = B64 + '+/',
    B64_URL = B64 + '-_';
  function decodeTable(alphabet: string): Int8Array {
    const t = new Int8Array(128).fill(-1);
    for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
    return t;
  }
  const TABLE_STD = decodeTable(B64_STD),
    TABLE_URL = decodeTable(B64_URL);

  function base64Encode(data: unknown, opts: unknown): string {
    const b = toBytes(data, 'base64.encode: data');
    const o = options(opts, 'base64.encode');
    const abc = o.url ? B64_URL : B64_STD;
    const pad = o.padding === undefined ? true : !!o.padding;
    const codes = new Array<number>(Math.ceil(b.length / 3) * 4);
    let n = 0,
      i = 0;
    for (; i + 2 < b.length; i += 3) {
      const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
      codes[n++] = abc.charCodeAt(v >> 18);
      codes[n++] = abc.charCodeAt((v >> 12) & 63);
      codes[n++] = abc.charCodeAt((v >> 6) & 63);
      codes[n++] = abc.charCodeAt(v & 63);
    }
    const rest = b.length - i;
    if (rest > 0) {
      const v = (b[i]! << 16) | (rest === 2 ? b[i + 1]! << 8 : 0);
      codes[n++] = abc.charCodeAt(v >> 18);
      codes[n++] = abc.charCodeAt((v >> 12) & 63);
      if (rest === 2) codes[n++] = abc.charCodeAt((v >> 6) & 63);
      if (pad) {
        codes[n++] = 61;
        if (rest === 1) codes[n++] = 61;
      }
    }
    return codesToString(codes, n);
  }

  function base64Decode(str: unknown, opts: unknown): Uint8Array {
    if (typeof str !== 'string') throw bad('base64.decode: expects a string');
    const o = options(opts, 'base64.decode');
    const table = o.url ? TABLE_URL : TABLE_STD;
    let end = str.length;
    while (end > 0 && str.charCodeAt(end - 1) === 61) end--;
    const padding = str.length - end;
    if (end % 4 === 1 || padding > 2 || (padding > 0 && str.length % 4 !== 0)) throw bad('base64.decode: invalid length or padding');
    const out = new U8((end * 3) >> 2);
    let acc = 0,
      bits = 0,
      n = 0;
    for (let i = 0; i < end; i++) {
      const c = str.charCodeAt(i);
      const v = c < 128 ? table[c]! : -1;
      if (v < 0) throw bad('base64.decode: invalid character at index ' + i);
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[n++] = (acc >> bits) & 255;
      }
    }
    return out;
  }

  const HEX = '0123456789abcdef';
  function hexEncode(data: unknown): string {
    const b = toBytes(data, 'hex.encode: data');
    const codes = new Array<number>(b.length * 2);
    for (let i = 0; i < b.length; i++) {
      codes[2 * i] = HEX.charCodeAt(b[i]! >> 4);
      codes[2 * i + 1] = HEX.charCodeAt(b[i]! & 15);
    }
    return codesToString(codes, codes.length);
  }
  function hexDigit(c: number): number {
    if (c >= 48 && c <= 57) return c - 48;
    if (c >= 97 && c <= 102) return c - 87;
    if (c >= 65 && c <= 70) return c - 55;
    return -1;
  }
  function hexDecode(str: unknown): Uint8Array {
    if (typeof str !== 'string' || str.length % 2 !== 0) throw bad('hex.decode: expects a string of even length');
    const out = new U8(str.length / 2);
    for (let i = 0; i < out.length; i++) {
      const hi = hexDigit(str.charCodeAt(2 * i)),
        lo = hexDigit(str.charCodeAt(2 * i + 1));
      if (hi < 0 || lo < 0) throw bad('hex.decode: invalid digit near index ' + 2 * i);
      out[i] = (hi << 4) | lo;
    }
    return out;
  }

  return Object.freeze({ utf8Encode, utf8Decode, toBytes, base64Encode, base64Decode, hexEncode, hexDecode });
}
