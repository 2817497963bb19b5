import { createHash } from 'node:crypto';

/**
 * Member and cluster ids derived exactly as etcd derives them
 * (etcdserver/api/membership: newMember and genID), so that the same
 * --initial-cluster and --initial-cluster-token give the same ids:
 *
 * - member id: the first 8 bytes (big-endian) of SHA-1 over the member's
 *   sorted peer URLs concatenated, then the cluster token, then (for members
 *   added at runtime) the Unix time in seconds as decimal text;
 * - cluster id: the first 8 bytes of SHA-1 over the sorted member ids, each as
 *   8 bytes big-endian.
 */
export function computeMemberId(peerUrls: string[], clusterToken: string, addedAtUnixSeconds?: number): bigint {
  const sorted = [...peerUrls].sort();
  let text = sorted.join('') + clusterToken;
  if (addedAtUnixSeconds !== undefined) text += String(addedAtUnixSeconds);
  return createHash('sha1').update(Buffer.from(text, 'utf8')).digest().readBigUInt64BE(0);
}

export function computeClusterId(memberIds: bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => bytes.writeBigUInt64BE(id, 8 * i));
  return createHash('sha1').update(bytes).digest().readBigUInt64BE(0);
}

/** Member ids print as lowercase hex without leading zeros, as etcd's types.ID does. */
export function idToHex(id: bigint): string {
  return id.toString(16);
}
