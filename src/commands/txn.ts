import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { badArgs } from '../cli/errors.js';
import type { FlagSpec } from '../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { StreamLineSource } from '../cli/stdin.js';
import { readTxn } from '../cli/txn-parser.js';

const txnFlagSpecs: readonly FlagSpec[] = [
  { name: 'interactive', short: 'i', kind: 'bool', defaultText: 'false', description: 'Input transaction in interactive mode' },
];

export default class Txn extends EtcdCommand {
  static override summary = 'Txn processes all the requests in one transaction';
  static override description = `Reads a transaction from standard input: compares, a blank line, the requests to run
if they all hold, a blank line, the requests to run otherwise, a blank line.

Compares: <target>("<key>") <op> "<value>" with target ver|version, c|create, m|mod,
val|value or lease (hex ID), and op one of = != > <. Requests are put, get and del
command lines with their flags.`;
  static override usage = 'txn [options]';
  static override examples = [
    `printf 'mod("key1") > "0"\\n\\nput key1 overwrote\\n\\nput key2 created\\n\\n' | <%= config.bin %> txn`,
    `<%= config.bin %> txn -i`,
  ];
  static override commandFlags = txnFlagSpecs;
  static override flags = oclifFlags(txnFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('txn command does not accept argument');
    const printer = await this.printer(flags);
    const interactive = flags.bool('interactive');
    const lines = new StreamLineSource(process.stdin);
    let request;
    try {
      request = await readTxn(lines, (prompt) => {
        if (!interactive) return;
        this.stdout.write(`${prompt}\n`);
        this.stdout.flush();
      });
    } finally {
      await lines.close();
    }
    const client = await this.connect(flags);
    const response = await client.kv.txn(request, this.callOptions(flags));
    printer.txn(response);
  }
}
