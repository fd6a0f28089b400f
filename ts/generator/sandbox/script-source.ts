/**
 * How a user's script becomes guest code: the body of an async function whose
 * parameters are the device-bound API functions. Checking and running share
 * this one wrapper so a script that passes the check compiles identically on
 * every device, and so error positions map back by subtracting one line.
 *
 * The wrapper is text, so a body with an unbalanced `}` can close it early and
 * run code at the top level of the guest once, when the sandbox is created.
 * That code has no more reach than device code (the same context, the same
 * limits), so we accept it rather than parse JavaScript on the host.
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
