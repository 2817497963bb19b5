/**
 * Splits a command's positional arguments into its own and a command to
 * run, at the first `--` of the raw command line (`elect name proposal --
 * cmd args`). The flag parser puts everything after `--` at the end of the
 * positional arguments, so the command is that many trailing arguments.
 */
export function splitExecArgs(argv: readonly string[], args: readonly string[]): { own: string[]; exec: string[] } {
  const separator = argv.indexOf('--');
  if (separator < 0) return { own: [...args], exec: [] };
  const exec = argv.slice(separator + 1);
  return { own: args.slice(0, args.length - exec.length), exec };
}
