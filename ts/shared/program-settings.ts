/**
 * What the coordinator and generator programs say when their settings are bad,
 * so both fail alike. Deciding to exit is their `main`'s.
 */

/** Exit code of a program given bad settings. */
export const EXIT_USAGE = 2;

/** The lines that list every problem of a program's settings. */
export function settingsProblemLines(program: string, problems: readonly string[]): string[] {
  return [`${program}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:`, ...problems.map((problem) => `  ${problem}`)];
}

/** The flag's value, else the variable's; and where it came from ('' for the flag). */
export function pickSetting(flag: string | undefined, env: NodeJS.ProcessEnv, name: string): [value: string | undefined, source: string] {
  return flag !== undefined ? [flag, ''] : [env[name] || undefined, name];
}

/** How a problem names a setting: by the variable when it came from there. */
export function settingName(option: string, source: string): string {
  return source ? `${source} (or ${option})` : option;
}
