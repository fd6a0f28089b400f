/**
 * Waiting in tests for what a system under test reaches in its own time: the
 * condition is polled, quickly at first (a sandbox's turn takes microseconds),
 * then every 50 ms (a coordinator's answer over HTTP), until it holds or the
 * time is up.
 */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, what: string | (() => string) = 'the condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let everyMs = 2;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    everyMs = Math.min(50, everyMs * 2);
  }
}
