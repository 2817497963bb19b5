import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { badArgs } from '../cli/errors.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { buildGet, getFlagSpecs } from '../cli/kv-ops.js';

export default class Get extends EtcdCommand {
  static override summary = 'Gets the key or a range of keys';
  static override usage = 'get [options] <key> [range_end]';
  static override examples = [
    '<%= config.bin %> get foo',
    '<%= config.bin %> get --prefix /app/ --keys-only',
    '<%= config.bin %> get foo foo9 --limit 10 --sort-by MODIFY --order DESCEND',
    '<%= config.bin %> get foo --rev 42 -w json',
    '<%= config.bin %> get --prefix /registry/pods/ --count-only',
    '<%= config.bin %> get --from-key "" --print-value-only',
  ];
  static override commandFlags = getFlagSpecs;
  static override flags = oclifFlags(getFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    const request = buildGet(args.map((a) => Buffer.from(a, 'utf8')), flags);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const response = await client.kv.range(request, this.callOptions(flags));
    const valueOnly = flags.bool('print-value-only');
    // etcdctl checks this only once the answer is in; so do we, to fail the same way.
    if (valueOnly && printer.format !== 'simple') throw badArgs('print-value-only is only for `--write-out=simple`');
    printer.get(response, { valueOnly, countOnly: request.countOnly });
  }
}
