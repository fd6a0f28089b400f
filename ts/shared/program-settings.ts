/**
 * How the coordinator and generator programs read a setting (a flag, else its
 * environment variable) and refuse bad ones, so both name settings and fail alike.
 */

/** Exit code of a program given bad settings. */
export const EXIT_USAGE = 2;

/** The flag's value, else the variable's; and where it came from ('' for the flag). */
export function pickSetting(flag: string | undefined, env: NodeJS.ProcessEnv, name: string): [value: string | undefined, source: string] {
  return flag !== undefined ? [flag, ''] : [env[name] || undefined, name];
}

/** How a problem names a setting: by the variable when it came from there. */
export function settingName(option: string, source: string): string {
  return source ? `${source} (or ${option})` : option;
}

/** Prints every problem of a program's settings and exits with EXIT_USAGE. */
export function refuseSettings(program: string, problems: readonly string[], log: (line: string) => void): never {
  log(`${program}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:`);
  for (const problem of problems) log(`  ${problem}`);
  process.exit(EXIT_USAGE);
}
