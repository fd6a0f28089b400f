/**
 * A small JavaScript highlighter for the script editor: one pass of a sticky
 * regular expression over the source, giving tokens the editor wraps in
 * spans. Good enough for scripts of a few hundred lines, typed one key at a time.
 */

const KEYWORDS = new Set(
  (
    'await async break case catch class const continue debugger default delete do else export extends false finally for function ' +
    'if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while with yield'
  ).split(' '),
);

/** The script API (types/stressgrid-script.d.ts): shown apart so a typo in a host call stands out. */
const HOST_NAMES = new Set(
  (
    'get head options del post put patch wsUpgrade wsSendText wsSendBinary wsSendJson wsReceiveText wsReceiveBinary wsReceiveJson ' +
    'wsFetchText wsFetchBinary wsFetchJson send recv startTiming stopTiming stopStartTiming incCounter delay randomBits randomBytes ' +
    'json params base64 hex crypto text JSON Math'
  ).split(' '),
);

const TOKEN = new RegExp(
  [
    String.raw`(?<comment>\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$))`,
    String.raw`(?<string>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|` + '`' + String.raw`(?:[^` + '`' + String.raw`\\]|\\[\s\S])*` + '`?)',
    String.raw`(?<number>\b(?:0[xX][\da-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?n?)\b|\.\d+(?:[eE][+-]?\d+)?)`,
    String.raw`(?<word>[A-Za-z_$][\w$]*)`,
    String.raw`(?<space>\s+)`,
    String.raw`(?<other>[\s\S])`,
  ].join('|'),
  'y',
);

/** Splits source into [kind, text] tokens; kinds: comment string number keyword host plain. */
export function tokenize(source) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  let match;
  while (TOKEN.lastIndex < source.length && (match = TOKEN.exec(source))) {
    const g = match.groups;
    let kind = 'plain';
    if (g.comment !== undefined) kind = 'comment';
    else if (g.string !== undefined) kind = 'string';
    else if (g.number !== undefined) kind = 'number';
    else if (g.word !== undefined) kind = KEYWORDS.has(g.word) ? 'keyword' : HOST_NAMES.has(g.word) ? 'host' : 'plain';
    const last = tokens.at(-1);
    if (kind === 'plain' && last?.[0] === 'plain') last[1] += match[0];
    else tokens.push([kind, match[0]]);
  }
  return tokens;
}

const escapeHtml = (text) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** The source as HTML, one `<span class="line">` per line (so a line can be marked), tokens inside. */
export function highlightLines(source, errorLines = new Set()) {
  const lines = [[]];
  for (const [kind, text] of tokenize(source)) {
    text.split('\n').forEach((part, i) => {
      if (i > 0) lines.push([]);
      if (part !== '') lines.at(-1).push(kind === 'plain' ? escapeHtml(part) : `<span class="tok-${kind}">${escapeHtml(part)}</span>`);
    });
  }
  return lines.map((parts, i) => `<span class="line${errorLines.has(i + 1) ? ' error-line' : ''}">${parts.join('')}</span>`).join('\n');
}
