"""
Writes fixtures.json: BERT terms encoded by independent Python implementations,
each beside the JavaScript value Stressgrid's codec must read it as (and, where
`exact`, encode that value to the very same bytes).

  python3 -m venv /tmp/bert-venv
  /tmp/bert-venv/bin/pip install erlang-py==2.0.7 bert==2.2.0 erlastic==2.0.0
  /tmp/bert-venv/bin/python test/sandbox/bert/make-fixtures.py > test/sandbox/bert/fixtures.json

erlang-py (okeuday) writes the external term format as today's Erlang does
(SMALL_ATOM_UTF8_EXT, NEW_FLOAT_EXT, MAP_EXT); bert (on erlastic) is a BERT
library of its own, writing the complex types and the older tags (ATOM_EXT,
FLOAT_EXT). Values are described in a tagged JSON the tests rebuild:
{"int": "123"}, {"float": 1.5}, {"str": "..."}, {"bytes": "hex"}, {"atom": "ok"},
{"bool": true}, {"nil": null}, {"list": [...]}, {"tuple": [...]},
{"object": [[key, value], ...]} (string keys), {"map": [[key, value], ...]} (keys
described too), {"time": ms}.
"""
import datetime
import json
import sys

import bert
import erlang
from erlastic import Atom as BertAtom

A = erlang.OtpErlangAtom
B = erlang.OtpErlangBinary

def atom(name):
    return A(name)

def binary(text):
    return B(text.encode('utf-8'))

fixtures = []

def add(name, term, value, exact=True, encoder='erlang-py'):
    data = erlang.term_to_binary(term) if encoder == 'erlang-py' else bert.encode(term)
    fixtures.append({'name': name, 'encoder': encoder, 'hex': data.hex(), 'value': value, 'exact': exact})

I = lambda n: {'int': str(n)}

# Integers: every width.
for n in [0, 1, 255, 256, -1, -2147483648, 2147483647, 2147483648, -2147483649, 2**53 - 1, -(2**53 - 1), 2**53 + 1, 2**64, -(2**100), 2**2100]:
    add('integer %d' % n if abs(n) < 2**70 else 'integer 2^%d' % n.bit_length(), n, I(n))
# Floats.
for f in [0.5, -1.25, 3.141592653589793, 1e300, -2.5e-300]:
    add('float %r' % f, f, {'float': f})
# Atoms, binaries (UTF-8 text and raw bytes).
add('atom ok', atom('ok'), {'atom': 'ok'})
add('atom with UTF-8', atom('caf\u00e9'), {'atom': 'caf\u00e9'})
add('atom of 300 bytes', atom('a' * 300), {'atom': 'a' * 300})
add('atom true is a boolean', atom('true'), {'bool': True}, exact=False)
add('binary text', binary('hello'), {'str': 'hello'})
add('binary UTF-8', binary('h\u00e9llo \u2603 \U0001F600'), {'str': 'h\u00e9llo \u2603 \U0001F600'})
add('empty binary', B(b''), {'str': ''})
add('binary bytes', B(bytes([0, 255, 128, 7])), {'bytes': '00ff8007'})
# Lists and tuples.
add('empty list', [], {'list': []})
add('list', [1, binary('two'), atom('three'), [4]], {'list': [I(1), {'str': 'two'}, {'atom': 'three'}, {'list': [I(4)]}]})
add('tuple', (atom('ok'), 42, binary('x')), {'tuple': [{'atom': 'ok'}, I(42), {'str': 'x'}]})
add('empty tuple', (), {'tuple': []})
add('large tuple', tuple(range(300)), {'tuple': [I(n) for n in range(300)]})
# Maps: binary keys read as an object, other keys as a Map.
add('map with binary keys', {binary('name'): binary('ada'), binary('age'): 36}, {'object': [['name', {'str': 'ada'}], ['age', I(36)]]})
add('map with atom keys', {atom('name'): binary('ada'), atom('tags'): [atom('a')]}, {'map': [[{'atom': 'name'}, {'str': 'ada'}], [{'atom': 'tags'}, {'list': [{'atom': 'a'}]}]]})
add('nested map', {binary('user'): {binary('id'): 7, binary('roles'): [binary('admin')]}}, {'object': [['user', {'object': [['id', I(7)], ['roles', {'list': [{'str': 'admin'}]}]]}]]})
# BERT complex types, written as today's Erlang writes the tuples.
add('bert nil', (atom('bert'), atom('nil')), {'nil': None})
add('bert true', (atom('bert'), atom('true')), {'bool': True})
add('bert false', (atom('bert'), atom('false')), {'bool': False})
add('bert time', (atom('bert'), atom('time'), 1255, 295581, 446000), {'time': 1255295581446})
add('bert time, microseconds truncated to a Date\'s milliseconds', (atom('bert'), atom('time'), 1255, 295581, 446228), {'time': 1255295581446}, exact=False)
add('bert dict', (atom('bert'), atom('dict'), [(atom('name'), binary('ada')), (binary('k'), 1)]), {'map': [[{'atom': 'name'}, {'str': 'ada'}], [{'str': 'k'}, I(1)]]}, exact=False)

# The same as a BERT library writes them (ATOM_EXT, FLOAT_EXT, bert's own conversions): read only.
add('bert library: nil', None, {'nil': None}, exact=False, encoder='bert')
add('bert library: true', True, {'bool': True}, exact=False, encoder='bert')
add('bert library: false', False, {'bool': False}, exact=False, encoder='bert')
add('bert library: float', 2.5, {'float': 2.5}, exact=False, encoder='bert')
add('bert library: atom', BertAtom('ok'), {'atom': 'ok'}, exact=False, encoder='bert')
add('bert library: dict', {'a': 1}, {'map': [[{'str': 'a'}, I(1)]]}, exact=False, encoder='bert')
add('bert library: time', datetime.datetime(2009, 10, 11, 21, 13, 1, 446000), {'time': 1255295581446}, exact=False, encoder='bert')
add('bert library: non-ASCII string', 'caf\u00e9', {'str': 'caf\u00e9'}, exact=False, encoder='bert')
add('bert library: list of tuples', [(BertAtom('a'), 1), (BertAtom('b'), [])], {'list': [{'tuple': [{'atom': 'a'}, I(1)]}, {'tuple': [{'atom': 'b'}, {'list': []}]}]}, exact=False, encoder='bert')

# What the Python BERT library reads back from erlang-py's bytes for the types both know,
# so the exact fixtures (the bytes Stressgrid writes) are known to decode elsewhere too.
# (erlastic predates the UTF-8 atom and map tags: terms holding those are left out.)
for f in fixtures:
    if f['encoder'] != 'erlang-py':
        continue
    try:
        f['pythonBertReads'] = repr(bert.decode(bytes.fromhex(f['hex'])))
    except (KeyError, NotImplementedError):
        pass

json.dump(fixtures, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write('\n')
