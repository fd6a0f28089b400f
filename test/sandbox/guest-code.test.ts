/**
 * The guest code (ts/generator/sandbox/guest/) is evaluated from its functions'
 * source text, so a function may use nothing from outside itself but the
 * language's globals: an import or a module-level value would be undefined in
 * the guest, and a Node global (Buffer, process) would not exist there. The
 * first test asks TypeScript what each identifier in a guest function refers
 * to; the others evaluate the functions' text in a fresh QuickJS context.
 */
import { fileURLToPath } from 'node:url';
import test from 'ava';
import ts from 'typescript';
import { guestBert } from '../../ts/generator/sandbox/guest/bert.js';
import { GUEST_PRELUDE } from '../../ts/generator/sandbox/guest-prelude.js';
import { quickJSModule } from '../../ts/shared/script/quickjs-module.js';

const GUEST_FILES = ['bert.ts', 'bytes.ts', 'prelude.ts'].map((name) => fileURLToPath(new URL(`../../../ts/generator/sandbox/guest/${name}`, import.meta.url)));
const OPTIONS: ts.CompilerOptions = { target: ts.ScriptTarget.ES2023, module: ts.ModuleKind.NodeNext, strict: true, noUncheckedIndexedAccess: true, noEmit: true };
const VALUE = ts.SymbolFlags.Variable | ts.SymbolFlags.Function | ts.SymbolFlags.Class | ts.SymbolFlags.Enum | ts.SymbolFlags.Alias | ts.SymbolFlags.ValueModule;

/** For each exported function of `files`, the values it names that are declared neither in it nor by the language's library. */
function outsideReferences(program: ts.Program, files: string[]): Map<string, string[]> {
  const checker = program.getTypeChecker();
  const functions = new Map<string, string[]>();
  for (const file of files) {
    const source = program.getSourceFile(file)!;
    for (const fn of source.statements) {
      if (!ts.isFunctionDeclaration(fn) || fn.name === undefined) continue;
      const outside: string[] = [];
      const visit = (node: ts.Node): void => {
        if (ts.isTypeNode(node)) return;
        const symbol = ts.isIdentifier(node) ? checker.getSymbolAtLocation(node) : undefined;
        if (symbol !== undefined && (symbol.flags & VALUE) !== 0 && (node as ts.Identifier).text !== 'globalThis') {
          const declarations = symbol.declarations ?? [];
          const inside = declarations.some((d) => d.getSourceFile() === source && d.pos >= fn.pos && d.end <= fn.end);
          const language = declarations.length > 0 && declarations.every((d) => program.isSourceFileDefaultLibrary(d.getSourceFile()));
          if (!inside && !language) outside.push((node as ts.Identifier).text);
        }
        ts.forEachChild(node, visit);
      };
      ts.forEachChild(fn, visit);
      functions.set(fn.name.text, outside);
    }
  }
  return functions;
}

test('each guest function refers to nothing outside itself but the language', (t) => {
  // The language's library alone: no Node types, no DOM.
  const program = ts.createProgram(GUEST_FILES, { ...OPTIONS, lib: ['lib.es2023.d.ts'], types: [] });
  const diagnostics = GUEST_FILES.flatMap((file) => {
    const source = program.getSourceFile(file)!;
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  });
  t.deepEqual(diagnostics, [], 'the guest files type-check against the language alone');
  const functions = outsideReferences(program, GUEST_FILES);
  t.deepEqual([...functions.keys()].sort(), ['guestBert', 'guestBytes', 'guestPrelude']);
  for (const [name, outside] of functions) t.deepEqual(outside, [], name);
});

test('the check sees a reference to an import, a module-level value and a Node global', (t) => {
  const file = fileURLToPath(new URL('../../../ts/generator/sandbox/guest/bad-example.ts', import.meta.url));
  const text = "import { OPERATION } from '../mailbox.js';\nconst LIMIT = 1;\nexport function guestBad(): unknown {\n  const own = 2;\n  return [OPERATION, LIMIT, Buffer, own, JSON];\n}\n";
  const host = ts.createCompilerHost(OPTIONS);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) => (name === file ? ts.createSourceFile(name, text, ts.ScriptTarget.ES2023, true) : getSourceFile(name, version));
  const program = ts.createProgram([file], { ...OPTIONS, types: ['node'] }, host);
  t.deepEqual(outsideReferences(program, [file]).get('guestBad'), ['OPERATION', 'LIMIT', 'Buffer']);
});

test("the BERT codec's text runs on its own in a fresh context", async (t) => {
  const ctx = (await quickJSModule()).newContext();
  try {
    const source = `(() => {
      const utf8 = (s) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
      const latin1 = (b) => String.fromCharCode(...b);
      const codec = (${guestBert.toString()})(utf8, latin1, (m) => new TypeError(m), (m) => new RangeError(m));
      const bytes = codec.encode([1, 'ab', codec.tuple(codec.atom('ok'), 300)]);
      return JSON.stringify([Array.from(bytes), codec.decode(bytes)]);
    })()`;
    const result = ctx.unwrapResult(ctx.evalCode(source, 'bert.js'));
    const [bytes, decoded] = JSON.parse(ctx.getString(result)) as [number[], unknown];
    result.dispose();
    t.deepEqual(bytes, [131, 108, 0, 0, 0, 3, 97, 1, 109, 0, 0, 0, 2, 97, 98, 104, 2, 119, 2, 111, 107, 98, 0, 0, 1, 44, 106]);
    t.deepEqual(decoded, [1, 'ab', ['ok', 300]]);
  } finally {
    ctx.dispose();
  }
});

test("the prelude's text boots in a fresh context and runs a device", async (t) => {
  const ctx = (await quickJSModule()).newContext();
  try {
    const source = `(() => {
      const host = { random: (n) => new ArrayBuffer(n), hash: () => new ArrayBuffer(32), hmac: () => new ArrayBuffer(32), wsFetch: () => null };
      const mailbox = ${GUEST_PRELUDE}(host, '{"n":2}');
      mailbox.setScript(async function (get) { incCounter('booted', params.n); await get('/x'); }, '[true]');
      mailbox.turn(null, null, '[0,7]', null);
      mailbox.wake(7);
      return mailbox;
    })()`;
    const mailbox = ctx.unwrapResult(ctx.evalCode(source, 'prelude.js'));
    t.is(ctx.unwrapResult(ctx.runtime.executePendingJobs()), 2);
    const take = ctx.getProp(mailbox, 'take');
    const taken = ctx.unwrapResult(ctx.callFunction(take, mailbox));
    t.is(ctx.getString(taken), 'H,1,7,GET,/x\nC,booted,2');
    for (const handle of [taken, take, mailbox]) handle.dispose();
  } finally {
    ctx.dispose();
  }
});
