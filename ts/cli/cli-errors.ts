/**
 * Failures of sgcli commands, each with a stable code. Commands throw them; only
 * the entry maps a code to an exit status (exit-codes.ts).
 */
import type { PlanProblem } from '../shared/plan.js';

export const CLI_ERROR = Object.freeze({
  /** Bad options, unreadable files, or a plan that does not validate. */
  usage: 'SG_CLI_USAGE',
  /** A script does not compile. */
  scriptCompile: 'SG_CLI_SCRIPT_COMPILE',
  /** A feature that is not available yet. */
  notSupported: 'SG_CLI_NOT_SUPPORTED',
  /** The run could not start or broke while running. */
  runFailed: 'SG_CLI_RUN_FAILED',
});

export type CliErrorCode = (typeof CLI_ERROR)[keyof typeof CLI_ERROR];

export class CliError extends Error {
  readonly code: CliErrorCode;
  /** One line each, printed under the message: every problem, not the first only. */
  readonly details: readonly string[];
  constructor(code: CliErrorCode, message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
    this.details = details;
  }
}

/** `blocks[0].script: must not be empty`, the one way problems are printed. */
export const formatProblem = (problem: PlanProblem): string => `${problem.path}: ${problem.message}`;

export const usageError = (problems: readonly PlanProblem[]): CliError =>
  new CliError(CLI_ERROR.usage, problems.length === 1 ? 'invalid plan or options (1 problem)' : `invalid plan or options (${problems.length} problems)`, problems.map(formatProblem));
