/**
 * etcdctl's exit codes (etcdctl/ctlv3/command/error.go). Which one a given
 * failure uses was checked against the real etcdctl 3.4.23, not only read:
 * request failures and bad flag values exit 1, bad or missing arguments exit
 * 128, bad txn input exits 3, an unsupported output format or option value 4.
 */
export const ExitCode = {
  success: 0,
  error: 1,
  badConnection: 2,
  invalidInput: 3,
  badFeature: 4,
  interrupted: 5,
  io: 6,
  badArgs: 128,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An operating error of the CLI: printed as one `Error: <message>` line, then exit with `exitCode`. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode = ExitCode.error) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad or missing positional arguments (etcdctl's ExitBadArgs). */
export function badArgs(message: string): CliError {
  return new CliError(message, ExitCode.badArgs);
}
