import type { Hook } from '@oclif/core';
import { ExitCode } from '../errors.js';

/**
 * An unknown command fails the way etcdctl's does: one `Error:` line on
 * stderr and exit code 1 (oclif's default is a decorated message and exit
 * code 2). Registered in package.json under oclif.hooks.command_not_found.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const name = options.id.split(':')[0] ?? options.id;
  process.stderr.write(`Error: unknown command "${name}" for "${options.config.bin}"\n`);
  process.exitCode = ExitCode.error;
};

export default hook;
