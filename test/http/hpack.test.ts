/**
 * The HTTP/2 client's HPACK: header blocks written by Go's encoder (an
 * independent implementation; fixtures.json, made by make-fixtures.go) decode
 * to the fields it was given, through dynamic-table insertions, evictions and
 * size updates; RFC 7541's own example decodes; broken blocks are refused; and
 * what we encode decodes back.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeHeaderBlock, HpackDecoder, HpackError, huffmanDecode } from '../../ts/generator/protocols/hpack.js';
import { STATIC_TABLE } from '../../ts/generator/protocols/hpack-tables.js';

interface Sequence {
  name: string;
  tableSize: number;
  blocks: Array<{ hex: string; fields: Array<[string, string]> }>;
}

const FIXTURES = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/http/hpack/fixtures.json', import.meta.url)), 'utf8')) as Sequence[];

for (const sequence of FIXTURES) {
  test(`Go's encoder, ${sequence.name}: every block decodes to its fields, in order`, (t) => {
    const decoder = new HpackDecoder(sequence.tableSize);
    for (const [i, block] of sequence.blocks.entries()) {
      t.deepEqual(decoder.decode(Buffer.from(block.hex, 'hex')), block.fields, `block ${i}`);
    }
  });
}

test('the fixtures use what a server uses: Huffman strings, indexed dynamic entries and size updates', (t) => {
  const firstBytes = FIXTURES.flatMap((s) => s.blocks.map((b) => Buffer.from(b.hex, 'hex')));
  // A dynamic-table index (above the static table's 61) appears somewhere, as does a size update (001xxxxx) at a block's start.
  t.true(firstBytes.some((b) => b.some((byte) => byte >= 0x80 + 62)));
  t.true(firstBytes.some((b) => (b[0]! & 0xe0) === 0x20));
});

test('RFC 7541 C.4.1: a request with Huffman-coded :authority', (t) => {
  const block = Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex');
  t.deepEqual(new HpackDecoder().decode(block), [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ]);
});

test('broken blocks are refused with HpackError', (t) => {
  const refused = (hex: string, message: RegExp) => t.throws(() => new HpackDecoder().decode(Buffer.from(hex, 'hex')), { instanceOf: HpackError, message });
  refused('be', /index 62 is beyond the dynamic table/);
  refused('80', /index 0/);
  refused('3fe21f', /4097 bytes, above the 4096/);
  refused('823f01', /size update after a header field/);
  refused('4087', /runs past the end/);
  refused('7f', /ends inside an integer/);
  // "a" is 00011 (5 bits): 1f is "a" and three bits of padding, a right end.
  t.deepEqual(new HpackDecoder().decode(Buffer.from('00811f0176', 'hex')), [['a', 'v']]);
  refused('00821fff0176', /padding/);
  refused('00811e0176', /padding/);
  refused('0084ffffffff0176', /holds EOS/);
});

test('Huffman: every octet decodes from its code', (t) => {
  // Every printable character at once, as Go's encoder Huffman-codes it (the second fixture).
  const printable = FIXTURES.find((s) => s.name.startsWith('every printable'))!.blocks[0]!.fields[0]![1];
  t.is(printable.length, 95);
  t.is(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex'), 0, 12), 'www.example.com');
});

test('what we encode decodes back: static entries indexed, names from the static table, literals of any byte', (t) => {
  const list = [
    ':method',
    'GET',
    ':scheme',
    'https',
    ':authority',
    'example.test',
    ':path',
    '/a?b=c',
    'accept-encoding',
    'gzip, deflate',
    'user-agent',
    'stressgrid',
    'x-custom',
    'value',
    'x-latin1',
    'caf\u00e9 \u00ff',
    'x-empty',
    '',
    'x-long',
    'y'.repeat(300),
    'x-custom',
    'again',
  ];
  const block = encodeHeaderBlock(list);
  const decoded = new HpackDecoder().decode(block);
  t.deepEqual(decoded.flat(), list);
  // :method GET and accept-encoding "gzip, deflate" are static entries: one byte each.
  t.is(block[0], 0x80 | (STATIC_TABLE.findIndex(([n, v]) => n === ':method' && v === 'GET') + 1));
  // Nothing we send adds to the server's table: no literal with incremental indexing (01xxxxxx).
  const again = new HpackDecoder();
  again.decode(block);
  t.throws(() => again.decode(Buffer.from('be', 'hex')), { instanceOf: HpackError });
});
