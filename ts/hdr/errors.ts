/** Codes of the errors the histogram throws; the native layer sets the same strings. */
export const HDR_ERROR = Object.freeze({
  /** Bad bounds or options given to the constructor. */
  bounds: 'ERR_HDR_BOUNDS',
  /** A value that is NaN, infinite, negative or not a number. Nothing of its batch was recorded. */
  value: 'ERR_HDR_VALUE',
  /** A percentile outside 0..100. */
  percentile: 'ERR_HDR_PERCENTILE',
  /** Bytes that are not a (complete, intact) V2 encoded histogram. */
  decode: 'ERR_HDR_DECODE',
  /** An argument of the wrong type (say a string where a histogram belongs). */
  argument: 'ERR_HDR_ARGUMENT',
});

export class HistogramError extends TypeError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'HistogramError';
    this.code = code;
  }
}

/** Native errors arrive as plain Errors carrying `code`; give them our class. */
export function rethrow(err: unknown): never {
  const e = err as { code?: unknown; message?: string };
  if (typeof e?.code === 'string' && e.code.startsWith('ERR_HDR_')) throw new HistogramError(e.code, e.message ?? e.code);
  throw err;
}
