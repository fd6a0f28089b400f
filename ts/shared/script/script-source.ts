/**
 * How a user's script becomes guest code: the body of an async function whose
 * parameters are the device-bound API functions. Checking and running share
 * this one wrapper so a script that passes the check compiles identically on
 * every device, and so error positions map back by subtracting one line.
 *
 * The wrapper is text, so a body with an unbalanced `}` could close it early
 * and leave code at the top level of the guest, run once when the sandbox is
 * created. A script is therefore first parsed as a function body on its own
 * (functionBodyProblem), and only a body that passes is ever wrapped and run.
 */

/** API functions bound to the calling device; passed as parameters of the wrapper, in this order. */
export const DEVICE_API = [
  'get',
  'head',
  'options',
  'del',
  'post',
  'put',
  'patch',
  'wsUpgrade',
  'wsSendText',
  'wsSendBinary',
  'wsSendJson',
  'wsReceiveText',
  'wsReceiveBinary',
  'wsReceiveJson',
  'wsFetchText',
  'wsFetchBinary',
  'wsFetchJson',
  'delay',
  'startTiming',
  'stopTiming',
  'stopStartTiming',
  'send',
  'recv',
] as const;

export const SCRIPT_FILE = 'script.js';

/** Lines the wrapper puts before the user's first line. */
const WRAPPER_LINES = 1;

/** The engine's own AsyncFunction constructor: it parses parameters and body each on their own (CreateDynamicFunction). */
const AsyncFunction = async function () {}.constructor as new (...parts: string[]) => unknown;

/**
 * Why `source` is not a function body on its own, or null when it is. The host
 * engine parses the body without concatenating it into a larger text (it
 * refuses a body that closes its function early), and the function it makes is
 * never called, so nothing of the script runs here.
 */
export function functionBodyProblem(source: string): string | null {
  try {
    new AsyncFunction(...DEVICE_API, `"use strict";\n${source}`);
    return null;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return `the script must be the body of a function and nothing else (${error.message}: an unbalanced \`}\` closes the body early?)`;
  }
}

export function wrapScript(source: string): string {
  return `(async function (${DEVICE_API.join(', ')}) {"use strict";\n${source}\n})`;
}

/**
 * Which device-bound functions the source names. Devices get closures only for
 * these, which keeps a waiting device small; a mention inside a string or a
 * comment only costs an unused closure.
 */
export function usedDeviceApi(source: string): boolean[] {
  return DEVICE_API.map((name) => new RegExp(`(?<![\\w$])${name}(?![\\w$])`).test(source));
}

export interface SourcePosition {
  line: number;
  column: number;
}

/**
 * Maps a position QuickJS reports in the wrapped text back to the user's source.
 * Positions in the closing wrapper line (a body that ends too early) land just
 * after the user's last character.
 */
export function userPosition(source: string, wrappedLine: number, column: number): SourcePosition {
  const lines = source.split('\n');
  const line = wrappedLine - WRAPPER_LINES;
  if (line < 1) return { line: 1, column: 1 };
  if (line > lines.length) return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
  return { line, column };
}

/** Reads `file:line:column` from the first frame of a QuickJS stack that mentions the script. */
export function scriptFrame(stack: string): { line: number; column: number } | undefined {
  const m = new RegExp(`${SCRIPT_FILE.replace('.', '\\.')}:(\\d+):(\\d+)`).exec(stack);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : undefined;
}
