import type { Hook } from '@oclif/core/hooks';
import { ExitCode } from '../errors.js';
import { suggestionsFor } from '../suggest.js';

/**
 * An unknown command fails the way etcdctl's does (cobra): the `Error:`
 * line, the commands it may have meant, where to find usage, and exit code
 * 1 (oclif's default is a decorated message and exit code 2). A mistyped
 * subcommand of a topic ("member lst") is named with its topic and gets the
 * topic's subcommands as suggestions; etcdctl prints the topic's help and
 * exits 0 there, which hides the typo from a script. Registered in
 * package.json under oclif.hooks.command_not_found.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const words = options.id.split(':');
  const ids = options.config.commands.filter((c) => c.hidden !== true).map((c) => c.id.split(':'));
  // The longest known topic the typed words start with, then the word that is not a command under it.
  let depth = 0;
  while (depth < words.length - 1 && ids.some((id) => id.length > depth + 1 && words.slice(0, depth + 1).every((w, i) => id[i] === w))) depth++;
  const parent = words.slice(0, depth);
  const typed = words[depth] ?? options.id;
  const siblings = [...new Set(ids.filter((id) => id.length > depth && parent.every((w, i) => id[i] === w)).map((id) => id[depth]!))];
  const bin = options.config.bin;
  const where = [bin, ...parent].join(' ');
  const suggestions = suggestionsFor(typed, siblings);
  // Cobra's layout, byte for byte: the suggestions belong to the error's text.
  const meant = suggestions.length > 0 ? `\n\nDid you mean this?\n${suggestions.map((s) => `\t${s}\n`).join('')}` : '';
  process.stderr.write(`Error: unknown command "${typed}" for "${where}"${meant}\nRun '${where} --help' for usage.\n`);
  process.exitCode = ExitCode.error;
};

export default hook;
