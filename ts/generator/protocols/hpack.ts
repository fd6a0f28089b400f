/**
 * HPACK (RFC 7541) for a device's HTTP/2 client: a decoder with the dynamic
 * table and Huffman strings (servers use both: nginx and nghttp2 Huffman-code
 * most values and index repeated headers), and an encoder that needs no state.
 *
 * The encoder never adds to the server's dynamic table: every field is an
 * indexed static entry or a literal "without indexing" (with a static name
 * where one exists). A request's headers are a few dozen bytes, so indexing would
 * save the server little and cost us a table to keep in step. Strings go raw,
 * never Huffman-coded, for the same reason.
 *
 * Strings are bytes read as latin1, as node:http2 does, so a header's size in
 * the table is its length.
 */
import { HUFFMAN_CODES, HUFFMAN_LENGTHS, STATIC_TABLE } from './hpack-tables.js';

/** A header block that breaks RFC 7541: a COMPRESSION_ERROR for the connection. */
export class HpackError extends Error {}

/** What an entry costs in the dynamic table besides its name and value (RFC 7541 4.1). */
const ENTRY_OVERHEAD = 32;
/** The dynamic table's size unless SETTINGS_HEADER_TABLE_SIZE says otherwise; the decoder's, since we announce no other. */
export const DEFAULT_TABLE_SIZE = 4096;
const EOS = 256;

/**
 * The Huffman code as a binary tree in one array: node n's children for bits 0
 * and 1 are at 2n and 2n+1, a positive value the next node, a negative one
 * -(symbol + 1). 257 leaves make 256 inner nodes; the root is node 0, which is
 * nobody's child, so 0 means "no child".
 */
const HUFFMAN_TREE = ((): Int32Array => {
  const tree = new Int32Array(2 * 256);
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const at = 2 * node + ((code >>> bit) & 1);
      if (tree[at] === 0) tree[at] = nodes++;
      node = tree[at]!;
    }
    tree[2 * node + (code & 1)] = -(symbol + 1);
  }
  return tree;
})();

/** Room for the longest string a Huffman string of n bytes can hold (the shortest code is 5 bits). */
let huffmanOut = Buffer.allocUnsafe(256);

/** A Huffman-coded string (RFC 7541 5.2): EOS inside, or padding that is not the start of EOS, or 8 bits or more of it, is an error. */
export function huffmanDecode(input: Uint8Array, start: number, end: number): string {
  const most = Math.ceil(((end - start) * 8) / 5);
  if (huffmanOut.length < most) huffmanOut = Buffer.allocUnsafe(Math.max(most, huffmanOut.length * 2));
  const out = huffmanOut;
  let length = 0;
  let node = 0;
  let pending = 0;
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = input[i]!;
    for (let shift = 7; shift >= 0; shift--) {
      const bit = (byte >>> shift) & 1;
      const next = HUFFMAN_TREE[2 * node + bit]!;
      if (next < 0) {
        const symbol = -next - 1;
        if (symbol === EOS) throw new HpackError('a Huffman string holds EOS');
        out[length++] = symbol;
        node = 0;
        pending = 0;
        ones = true;
      } else {
        node = next;
        pending++;
        if (bit === 0) ones = false;
      }
    }
  }
  if (pending > 7 || !ones) throw new HpackError('a Huffman string ends in padding that is not a prefix of EOS');
  return out.toString('latin1', 0, length);
}

/** Reads a header block, keeping the connection's dynamic table in step. */
export class HpackDecoder {
  /** Newest entry first, as HPACK numbers them (static 1–61, then dynamic 62…). */
  private readonly table: Array<readonly [string, string]> = [];
  private size = 0;
  private maxSize: number;
  private pos = 0;
  private block: Uint8Array = new Uint8Array(0);

  /** `limit` is the SETTINGS_HEADER_TABLE_SIZE we announced: the most a size update may ask for. */
  constructor(private readonly limit = DEFAULT_TABLE_SIZE) {
    this.maxSize = limit;
  }

  /** The fields of one whole header block, in order, pseudo-headers included; throws HpackError on a broken block. */
  decode(block: Uint8Array): Array<[string, string]> {
    this.block = block;
    this.pos = 0;
    const fields: Array<[string, string]> = [];
    let fieldSeen = false;
    while (this.pos < block.length) {
      const first = block[this.pos]!;
      if (first & 0x80) {
        const entry = this.entry(this.integer(7));
        fields.push([entry[0], entry[1]]);
        fieldSeen = true;
      } else if (first & 0x40) {
        const field = this.literal(6);
        this.add(field);
        fields.push(field);
        fieldSeen = true;
      } else if (first & 0x20) {
        // A size update is allowed only at the start of a block (RFC 7541 4.2).
        if (fieldSeen) throw new HpackError('a dynamic table size update after a header field');
        const size = this.integer(5);
        if (size > this.limit) throw new HpackError(`a dynamic table size update to ${size} bytes, above the ${this.limit} allowed`);
        this.maxSize = size;
        this.evict(0);
      } else {
        // Without indexing (0000) or never indexed (0001): the same to a decoder.
        fields.push(this.literal(4));
        fieldSeen = true;
      }
    }
    this.block = new Uint8Array(0);
    return fields;
  }

  /** An integer with an N-bit prefix (RFC 7541 5.1). */
  private integer(prefixBits: number): number {
    const block = this.block;
    const mask = (1 << prefixBits) - 1;
    let value = block[this.pos++]! & mask;
    if (value < mask) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= block.length) throw new HpackError('a header block ends inside an integer');
      const byte = block[this.pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
      if (shift > 28) throw new HpackError('an integer in a header block is too large');
    }
    return value;
  }

  private string(): string {
    if (this.pos >= this.block.length) throw new HpackError('a header block ends before a string');
    const huffman = (this.block[this.pos]! & 0x80) !== 0;
    const length = this.integer(7);
    const start = this.pos;
    const end = start + length;
    if (end > this.block.length) throw new HpackError('a string runs past the end of its header block');
    this.pos = end;
    if (huffman) return huffmanDecode(this.block, start, end);
    return Buffer.from(this.block.buffer, this.block.byteOffset, this.block.byteLength).toString('latin1', start, end);
  }

  /** A literal field whose name is an index (non-zero) or a string after it. */
  private literal(prefixBits: number): [string, string] {
    const index = this.integer(prefixBits);
    const name = index === 0 ? this.string() : this.entry(index)[0];
    return [name, this.string()];
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0 in a header block');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const entry = this.table[index - STATIC_TABLE.length - 1];
    if (entry === undefined) throw new HpackError(`index ${index} is beyond the dynamic table (${this.table.length} entries)`);
    return entry;
  }

  private add(field: readonly [string, string]): void {
    const size = field[0].length + field[1].length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (RFC 7541 4.4).
    this.evict(size);
    if (size > this.maxSize) return;
    this.table.unshift(field);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.table.length > 0 && this.size + room > this.maxSize) {
      const [name, value] = this.table.pop()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

/** Static entries by `name\0value` and the first static index of each name, for the encoder. */
const STATIC_FIELD = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (!STATIC_FIELD.has(`${name}\0${value}`)) STATIC_FIELD.set(`${name}\0${value}`, i + 1);
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
});

/**
 * A header block for a flat `[name, value, ...]` list (names already lower
 * case): static entries indexed, everything else literal without indexing.
 */
export function encodeHeaderBlock(list: readonly string[]): Buffer {
  let size = 0;
  // A string's length prefix takes at most 5 bytes, and a literal's first byte one more.
  for (const s of list) size += s.length + 6;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  const integer = (value: number, prefixBits: number, first: number): void => {
    const mask = (1 << prefixBits) - 1;
    if (value < mask) {
      out[pos++] = first | value;
      return;
    }
    out[pos++] = first | mask;
    value -= mask;
    while (value >= 0x80) {
      out[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    out[pos++] = value;
  };
  const string = (s: string): void => {
    integer(s.length, 7, 0);
    pos += out.write(s, pos, 'latin1');
  };
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const indexed = STATIC_FIELD.get(`${name}\0${value}`);
    if (indexed !== undefined) {
      integer(indexed, 7, 0x80);
      continue;
    }
    const nameIndex = STATIC_NAME.get(name);
    if (nameIndex !== undefined) integer(nameIndex, 4, 0);
    else {
      out[pos++] = 0;
      string(name);
    }
    string(value);
  }
  return out.subarray(0, pos);
}
