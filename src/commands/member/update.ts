import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { onMember } from '../../cli/admin/member-ref.js';
import { badArgs } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { goParseUint } from '../../cli/go/strconv.js';

const memberUpdateFlagSpecs: readonly FlagSpec[] = [
  { name: 'peer-urls', kind: 'string', defaultText: '', description: 'comma separated peer URLs for the updated member.' },
];

export default class MemberUpdate extends EtcdCommand {
  static override summary = 'Updates a member in the cluster';
  static override description = 'Changes the peer URLs of the member given by hex ID or, beyond etcdctl, by its unique name.';
  static override usage = 'member update <memberID|memberName> [options]';
  static override examples = ['<%= config.bin %> member update 8211f1d0f64f3269 --peer-urls=http://10.0.0.5:2380'];
  static override commandFlags = memberUpdateFlagSpecs;
  static override flags = oclifFlags(memberUpdateFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('member ID is not provided');
    const peerUrls = flags.string('peer-urls');
    // etcdctl reports a bad ID before missing URLs (a name is only looked up once connected).
    if (peerUrls === '') {
      try {
        goParseUint(args[0]!, 16);
      } catch (err) {
        throw badArgs(`bad member ID arg (${(err as Error).message}), expecting ID in Hex`);
      }
      throw badArgs('member peer urls not provided');
    }
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const options = this.callOptions(flags);
    const urls = peerUrls.split(',');
    const { id, result } = await onMember(client, args[0]!, options, (memberId) => client.cluster.memberUpdate(memberId, urls, options));
    printer.memberUpdate(id, result);
  }
}

