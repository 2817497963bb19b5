import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { badArgs, CliError, ExitCode } from '../cli/errors.js';
import type { FlagSpec } from '../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { goParseInt } from '../cli/go/strconv.js';

const compactionFlagSpecs: readonly FlagSpec[] = [
  { name: 'physical', kind: 'bool', defaultText: 'false', description: "'true' to wait for compaction to physically remove all old revisions" },
];

export default class Compaction extends EtcdCommand {
  static override summary = 'Compacts the event history in etcd';
  static override usage = 'compaction [options] <revision>';
  static override examples = ['<%= config.bin %> compaction 1234', '<%= config.bin %> compaction --physical 1234'];
  static override commandFlags = compactionFlagSpecs;
  static override flags = oclifFlags(compactionFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('compaction command needs 1 argument');
    let revision: bigint;
    try {
      revision = goParseInt(args[0]!, 10);
    } catch (err) {
      throw new CliError((err as Error).message, ExitCode.error);
    }
    // The answer is a fixed line whatever -w says, but etcdctl still rejects an unknown format.
    await this.printer(flags);
    const client = await this.connect(flags);
    await client.kv.compact(revision, { ...this.callOptions(flags), physical: flags.bool('physical') });
    this.stdout.write(`compacted revision ${revision}\n`);
  }
}
