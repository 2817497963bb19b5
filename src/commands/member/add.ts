import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { goQuote } from '../../cli/go/quote.js';
import type { MemberAddResponse } from '../../proto/gen/etcdserverpb/rpc.js';

const memberAddFlagSpecs: readonly FlagSpec[] = [
  { name: 'peer-urls', kind: 'string', defaultText: '', description: 'comma separated peer URLs for the new member.' },
  { name: 'learner', kind: 'bool', defaultText: 'false', description: 'indicates if the new member is raft learner' },
];

export default class MemberAdd extends EtcdCommand {
  static override summary = 'Adds a member into the cluster';
  static override description = `Adds a member into the cluster and prints the settings to start it with
(ETCD_NAME, ETCD_INITIAL_CLUSTER, ETCD_INITIAL_ADVERTISE_PEER_URLS,
ETCD_INITIAL_CLUSTER_STATE="existing"). Adding it as a --learner first and
promoting it once it has caught up keeps the quorum safe while it starts.`;
  static override usage = 'member add <memberName> [options]';
  static override examples = [
    '<%= config.bin %> member add infra4 --peer-urls=http://10.0.0.4:2380 --learner',
    '<%= config.bin %> member add infra4 --peer-urls=http://10.0.0.4:2380,http://10.0.1.4:2380',
  ];
  static override commandFlags = memberAddFlagSpecs;
  static override flags = oclifFlags(memberAddFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length < 1) throw badArgs('member name not provided');
    if (args.length > 1) {
      let message = 'too many arguments';
      for (const arg of args) if (arg.toLowerCase().startsWith('http')) message += `, did you mean --peer-urls=${arg}`;
      throw badArgs(message);
    }
    const name = args[0]!;
    const peerUrls = flags.string('peer-urls');
    if (peerUrls === '') throw badArgs('member peer urls not provided');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const response = await client.cluster.memberAdd(peerUrls.split(','), { ...this.callOptions(flags), isLearner: flags.bool('learner') });
    printer.memberAdd(response);
    if (printer.format === 'simple') this.printStartSettings(name, peerUrls, response);
  }

  /** The environment to start the new member with, as etcdctl prints it. */
  private printStartSettings(name: string, peerUrls: string, response: MemberAddResponse): void {
    const newId = response.member?.ID;
    const cluster = response.members.flatMap((m) => m.peerURLs.map((url) => `${m.ID === newId ? name : m.name}=${url}`));
    this.stdout.write('\n');
    this.stdout.write(`ETCD_NAME=${goQuote(name)}\n`);
    this.stdout.write(`ETCD_INITIAL_CLUSTER=${goQuote(cluster.join(','))}\n`);
    this.stdout.write(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerUrls)}\n`);
    this.stdout.write('ETCD_INITIAL_CLUSTER_STATE="existing"\n');
  }
}
