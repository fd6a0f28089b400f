/**
 * Benchmarks measure each generator in a child process of its own, so that its
 * CPU time and RSS are its alone: the bench file runs itself with
 * `--child <mode> <args...>` and prints its result as the last line of JSON.
 */
import { spawn } from 'node:child_process';

/** The shell prefix that raises the open-file limit to the hard limit: 10,000 sockets do not fit the usual soft 1024. */
export const RAISE_OPEN_FILES = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

/** Runs `file` as a child in `mode` and returns the JSON it prints last. */
export function runBenchChild<T>(file: string, mode: string, args: number[], nodeFlags: string[] = []): Promise<T> {
  const proc = spawn('/bin/sh', ['-c', RAISE_OPEN_FILES, 'sh', process.execPath, ...nodeFlags, file, '--child', mode, ...args.map(String)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`${mode} child exited with ${code ?? signal}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as T);
    });
  });
}
