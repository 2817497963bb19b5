import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { buildDel, delFlagSpecs } from '../cli/kv-ops.js';

export default class Del extends EtcdCommand {
  static override summary = 'Removes the specified key or range of keys [key, range_end)';
  static override usage = 'del [options] <key> [range_end]';
  static override examples = [
    '<%= config.bin %> del foo',
    '<%= config.bin %> del --prefix /app/ --prev-kv',
    '<%= config.bin %> del a z',
  ];
  static override commandFlags = delFlagSpecs;
  static override flags = oclifFlags(delFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    const request = buildDel(args.map((a) => Buffer.from(a, 'utf8')), flags);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const response = await client.kv.deleteRange(request, this.callOptions(flags));
    printer.del(response);
  }
}
