import test from 'ava';
import { checkScript, ScriptCompileError } from '../../ts/shared/script/check.js';
import { ScriptSandbox } from '../../ts/generator/sandbox/script-sandbox.js';
import { RecordingSink } from './fakes.js';

test('a valid script has no problem', async (t) => {
  t.is(await checkScript(`const r = await get('/'); if (r.status !== 200) throw new Error('x');\nawait delay(1);`), null);
});

test('an error on line 1 keeps its column', async (t) => {
  t.deepEqual(await checkScript('let x = ;'), { line: 1, column: 9, message: "SyntaxError: unexpected token in expression: ';'" });
});

test('an error on a later line is reported on that line of the user source', async (t) => {
  const problem = await checkScript('await get("/");\n\n   let let = 1;');
  t.is(problem?.line, 3);
  t.is(problem?.column, 8);
  t.regex(problem!.message, /^SyntaxError/);
});

test('a script that ends too early points just past its last character', async (t) => {
  t.like(await checkScript('await get("/");\nfoo('), { line: 2, column: 5 });
});

test('scripts are strict: with is a compile error', async (t) => {
  t.like(await checkScript('with ({}) {}'), { line: 1 });
});

test('checking never runs the script', async (t) => {
  t.is(await checkScript('while (true) {}'), null);
});

test('ScriptSandbox.create rejects a script that does not compile, with the same problem', async (t) => {
  const error = await t.throwsAsync(ScriptSandbox.create({ source: 'a\n  b c', params: {}, sink: new RecordingSink() }), {
    instanceOf: ScriptCompileError,
  });
  t.deepEqual(error.problem, await checkScript('a\n  b c'));
  t.is(error.code, 'script_compile');
});

// The wrapper is `(async function (...) {<body>})`: these bodies close it early
// and would leave code at the top level of the guest.
const BREAKOUTS = [`}); throw new Error('top level ran'); (function () {`, `}), incCounter('escaped'), (function () {`, `await delay(1); });\n(function () {`];

test('a script with an unbalanced } is refused at compile time, as a function body only', async (t) => {
  for (const source of BREAKOUTS) {
    const problem = await checkScript(source);
    t.truthy(problem, source);
    t.regex(problem!.message, /body of a function/, source);
  }
});

test('ScriptSandbox.create refuses an unbalanced } before any of it runs', async (t) => {
  for (const source of BREAKOUTS) {
    const sink = new RecordingSink();
    const error = await t.throwsAsync(ScriptSandbox.create({ source, params: {}, sink }), { instanceOf: ScriptCompileError });
    t.regex(error.message, /body of a function/, source);
    t.notRegex(error.message, /top level ran/);
    t.is(sink.counts.size, 0);
  }
});

test('braces inside strings, regular expressions, templates and comments are no problem', async (t) => {
  t.is(await checkScript("const a = '}'; const b = /[}]/; const c = `}${'{'}`; // }\n/* } */ await delay(1);"), null);
});
