/**
 * Exit codes of sgcli, a documented list that scripts and CI can rely on.
 * Only the entry (`command.ts` → `sgcli.ts`) maps outcomes and errors to them.
 */
export const EXIT = Object.freeze({
  /** The run ended normally (or a non-run command succeeded). */
  ok: 0,
  /**
   * The run went to its end but was broken (run-verdict.ts): the runner counted
   * critical errors, or the script faulted at least once (script, cpu_limit,
   * memory_limit, stack_overflow, bad_argument or wrong_protocol errors), or no
   * device exchanged anything with a target in the whole run (response, send and
   * receive counts all zero). Transport errors alone do not count. The archive is written.
   */
  criticalErrors: 1,
  /** Bad command line, unreadable file, or a plan that does not validate. */
  usage: 2,
  /** A script does not compile; nothing ran. */
  scriptCompile: 3,
  /** Aborted by the user (one Ctrl-C); the archive of what ran is written. */
  aborted: 4,
  /** The run could not start or failed inside (no generators, the runner broke). */
  runFailed: 5,
  /** Asked for something this build does not support (a remote coordinator without the remote runner). */
  notSupported: 6,
  /**
   * The run's thresholds were not all met (the plan's `thresholds` or
   * `--threshold`), or one with abortOnFail stopped the run. The archive is
   * written; the end-of-run summary says which failed and what was measured.
   * Takes precedence over criticalErrors; the same number as k6's.
   */
  thresholdsFailed: 99,
  /** A second Ctrl-C forced the exit; no archive. 128 + SIGINT, as shells do. */
  forced: 130,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
