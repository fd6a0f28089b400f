/**
 * The script editor's highlighter: every character of the source comes back, in
 * order and escaped, one line per source line, whatever the tokens span.
 */
import test from 'ava';
// @ts-expect-error: the website is plain JavaScript without declarations.
import * as highlight from '../../../web/highlight.js';

type Token = [kind: string, text: string];
const { highlightLines, tokenize } = highlight as {
  highlightLines: (source: string, errorLines?: ReadonlySet<number>) => string;
  tokenize: (source: string) => Token[];
};
const tokens = (source: string): Token[] => tokenize(source);
const unescape = (html: string) =>
  html
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

const SOURCES = [
  'for (;;) {\n  await get("/");\n  await delay(100);\n}\n',
  'const s = `a ${params.x}\nb`; // `still a comment`\n/* multi\nline */ x < 1 && y > "<b>"',
  "incCounter('hits', 0x1F + 1e3 + .5 + 10n); const unterminated = 'oops\nnext",
  '',
  '\n\n',
];

test('the tokens put the source back together, character for character', (t) => {
  for (const source of SOURCES)
    t.is(
      tokens(source)
        .map(([, text]) => text)
        .join(''),
      source,
    );
});

test('keywords, the script API, strings, numbers and comments are told apart', (t) => {
  const kinds = Object.fromEntries(
    tokens('await get("/"); // done\nconst n = 0x1F;')
      .filter(([kind]) => kind !== 'plain')
      .map(([kind, text]) => [text, kind]),
  );
  t.deepEqual(kinds, { await: 'keyword', get: 'host', '"/"': 'string', '// done': 'comment', const: 'keyword', '0x1F': 'number' });
  t.deepEqual(tokens('getter'), [['plain', 'getter']], 'a name that starts like an API function is not one');
});

test('highlighted lines match the source lines, escaped, with the error lines marked', (t) => {
  for (const source of SOURCES) {
    const lines = highlightLines(source, new Set([2])).split('\n');
    t.is(lines.length, source.split('\n').length);
    t.deepEqual(lines.map(unescape), source.split('\n'));
    if (lines.length >= 2) t.regex(lines[1]!, /^<span class="line error-line">/);
  }
  t.notRegex(highlightLines('"<script>"'), /<script>/);
});
