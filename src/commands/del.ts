import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { buildDel, delFlagSpecs } from '../cli/kv-ops.js';
import { confirmOrStop, yesFlagSpec } from '../cli/confirm.js';
import { fromKeyEnd } from '../client/keys.js';

const delCommandFlags = [...delFlagSpecs, yesFlagSpec];

export default class Del extends EtcdCommand {
  static override summary = 'Removes the specified key or range of keys [key, range_end)';
  static override usage = 'del [options] <key> [range_end]';
  static override examples = [
    '<%= config.bin %> del foo',
    '<%= config.bin %> del --prefix /app/ --prev-kv',
    '<%= config.bin %> del a z',
  ];
  static override description = `Deleting every key (\`--prefix ""\` or \`--from-key ""\`) asks for confirmation first
when stdin and stderr are a terminal, unless --yes; anywhere else it deletes, as etcdctl does.`;
  static override commandFlags = delCommandFlags;
  static override flags = oclifFlags(delCommandFlags);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    const request = buildDel(args.map((a) => Buffer.from(a, 'utf8')), flags);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    if (request.key.equals(fromKeyEnd) && request.rangeEnd.equals(fromKeyEnd)) {
      // The whole key space: say how much that is before it goes.
      const { count } = await client.kv.range({ key: request.key, rangeEnd: request.rangeEnd, countOnly: true }, this.callOptions(flags));
      await confirmOrStop(flags, `Delete every key in the cluster (${count} now)?`, 'nothing was deleted');
    }
    const response = await client.kv.deleteRange(request, this.callOptions(flags));
    printer.del(response);
  }
}
