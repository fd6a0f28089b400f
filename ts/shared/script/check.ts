/**
 * Compile-time check of a script, run by the coordinator before a plan starts:
 * the script is compiled exactly as devices compile it (script-source.ts) but
 * never run, and the first problem comes back with a position in the user's
 * own text.
 */
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';
import type { ScriptProblem } from '../plan-validation.js';
import { quickJSModule } from './quickjs-module.js';
import { functionBodyProblem, SCRIPT_FILE, scriptFrame, userPosition, wrapScript } from './script-source.js';

export type { ScriptProblem } from '../plan-validation.js';

/** Thrown by ScriptSandbox.create for a script that does not compile. */
export class ScriptCompileError extends Error {
  readonly code = 'script_compile';
  constructor(readonly problem: ScriptProblem) {
    super(`script does not compile (line ${problem.line}, column ${problem.column}): ${problem.message}`);
    this.name = 'ScriptCompileError';
  }
}

/** Limits for the throwaway runtime a check compiles in: parsing needs little. */
const CHECK_MEMORY_BYTES = 64 * 1024 * 1024;
const CHECK_STACK_BYTES = 256 * 1024;
const CHECK_CPU_MS = 5_000;

export async function checkScript(source: string): Promise<ScriptProblem | null> {
  if (typeof source !== 'string') return { line: 1, column: 1, message: 'the script must be a string' };
  const runtime = (await quickJSModule()).newRuntime();
  runtime.setMemoryLimit(CHECK_MEMORY_BYTES);
  runtime.setMaxStackSize(CHECK_STACK_BYTES);
  const deadline = performance.now() + CHECK_CPU_MS;
  runtime.setInterruptHandler(() => performance.now() > deadline);
  const context = runtime.newContext();
  try {
    return compileCheck(context, source);
  } finally {
    context.dispose();
    runtime.dispose();
  }
}

/**
 * Compiles the script without running it: first as QuickJS compiles it on a
 * device (positions in the user's text), then as a function body on its own,
 * so a body that closes its wrapper early never reaches a device.
 */
export function compileCheck(context: QuickJSContext, source: string): ScriptProblem | null {
  const result = context.evalCode(wrapScript(source), SCRIPT_FILE, { compileOnly: true });
  if (result.error) {
    const problem = compileProblem(context, result.error, source);
    result.error.dispose();
    return problem;
  }
  result.value.dispose();
  const notABody = functionBodyProblem(source);
  return notABody === null ? null : { line: 1, column: 1, message: `SyntaxError: ${notABody}` };
}

/** Turns the guest error of a failed compile into a problem positioned in the user's source. */
export function compileProblem(context: QuickJSContext, error: QuickJSHandle, source: string): ScriptProblem {
  const dumped: unknown = context.dump(error);
  const e = (typeof dumped === 'object' && dumped !== null ? dumped : { message: String(dumped) }) as {
    name?: unknown;
    message?: unknown;
    stack?: unknown;
  };
  const frame = typeof e.stack === 'string' ? scriptFrame(e.stack) : undefined;
  const position = frame ? userPosition(source, frame.line, frame.column) : { line: 1, column: 1 };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(dumped);
  return { ...position, message: `${name}: ${message}` };
}
