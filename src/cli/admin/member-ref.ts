import type { Client } from '../../client/client.js';
import { MemberNotFoundError } from '../../client/errors.js';
import type { CallOptions } from '../../client/options.js';
import type { Member } from '../../proto/gen/etcdserverpb/rpc.js';
import { badArgs } from '../errors.js';
import { goParseUint } from '../go/strconv.js';
import { goHex } from './go-format.js';

/**
 * The member argument of `member remove|update|promote`: etcdctl takes only
 * the hex ID, and operators keep asking to use the name they gave the member
 * (etcd#2195). We take either. The hex ID wins, exactly as in etcdctl; a
 * word that is not an ID of the cluster is looked up as a name, and a name
 * that several members share is refused (member names need not be unique),
 * so a name never removes the wrong member. Unstarted members have no name
 * yet and are addressed by ID.
 */
export async function onMember<T>(
  client: Client,
  arg: string,
  options: CallOptions,
  action: (id: bigint) => Promise<T>,
): Promise<{ id: bigint; result: T }> {
  let id: bigint;
  try {
    id = goParseUint(arg, 16);
  } catch (err) {
    const named = await memberNamed(client, arg, options);
    if (named === undefined) throw badArgs(`bad member ID arg (${(err as Error).message}), expecting ID in Hex`);
    return { id: named.ID, result: await action(named.ID) };
  }
  try {
    return { id, result: await action(id) };
  } catch (err) {
    // A name made only of hex digits ("abc", "e1e2"): try it as a name before giving up.
    if (!(err instanceof MemberNotFoundError)) throw err;
    const named = await memberNamed(client, arg, options);
    if (named === undefined) throw err;
    return { id: named.ID, result: await action(named.ID) };
  }
}

/** The one member called `name`, undefined when none is, an error when several are. */
export async function memberNamed(client: Client, name: string, options: CallOptions): Promise<Member | undefined> {
  const { members } = await client.cluster.memberList(options);
  return pickByName(members, name);
}

export function pickByName(members: readonly Member[], name: string): Member | undefined {
  if (name === '') return undefined;
  const matches = members.filter((m) => m.name === name);
  if (matches.length > 1) {
    const ids = matches.map((m) => goHex(m.ID)).join(', ');
    throw badArgs(`member name "${name}" is ambiguous: ${matches.length} members are called so (${ids}); give the member ID instead`);
  }
  return matches[0];
}
