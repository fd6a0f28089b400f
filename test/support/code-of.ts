/**
 * The error code an operation failed with, for asserting it: `ok` when it did
 * not fail, the `code` of a DeviceError (or any error with a string code), or
 * what was thrown when it had none.
 */
const codeOfError = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : `no code: ${String(error)}`;
};

export async function codeOf(operation: Promise<unknown>): Promise<string> {
  try {
    await operation;
    return 'ok';
  } catch (error) {
    return codeOfError(error);
  }
}

/** codeOf for a call that fails synchronously. */
export function codeOfCall(call: () => unknown): string {
  try {
    call();
    return 'ok';
  } catch (error) {
    return codeOfError(error);
  }
}
