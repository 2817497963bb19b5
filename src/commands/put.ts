import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { buildPut, putFlagSpecs } from '../cli/kv-ops.js';
import { readAll } from '../cli/stdin.js';

export default class Put extends EtcdCommand {
  static override summary = 'Puts the given key into the store';
  static override description = `Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag. Insert '--' for workaround:
  $ put <key> -- <value>
  $ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command reads the value from standard input.`;
  static override usage = 'put [options] <key> <value> (<value> can also be given from stdin)';
  static override examples = [
    '<%= config.bin %> put foo bar',
    '<%= config.bin %> put foo bar --prev-kv -w json',
    'cat config.yaml | <%= config.bin %> put /app/config',
    '<%= config.bin %> put foo --ignore-value --lease=694d7a3b4e8e5e0d',
  ];
  static override commandFlags = putFlagSpecs;
  static override flags = oclifFlags(putFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    const keyAndValue = args.map((a) => Buffer.from(a, 'utf8'));
    // Only a lone key reads stdin, and only after the argument count is known to be fine.
    const stdinValue = args.length === 1 && !flags.bool('ignore-value') ? await readAll() : undefined;
    const request = buildPut(keyAndValue, flags, () => stdinValue);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const response = await client.kv.put(request, this.callOptions(flags));
    printer.put(response);
  }
}
