/**
 * Typed errors of the peer transport, and how a refusal travels between
 * members: the receiver closes the call with FAILED_PRECONDITION, one of the
 * messages below (etcd's own rafthttp wording where it has one), and the
 * refusal kind in trailing metadata, which the sender reads to tell "you were
 * removed" (stop yourself) from "wrong cluster" (log loudly, keep retrying
 * slowly) from an ordinary network failure.
 */
import { Metadata, status as Status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { OperatingError } from '../operating-error.js';

export type RefusalKind = 'removed' | 'cluster-id-mismatch' | 'member-id-mismatch';

const refusalKey = 'etcdts-refusal';
const clusterIdKey = 'etcdts-cluster-id';

/** The receiving member refused the call: permanent until something changes. */
export abstract class PeerRefusedError extends OperatingError {
  abstract readonly kind: RefusalKind;
}

export class MemberRemovedError extends PeerRefusedError {
  readonly kind = 'removed';
  constructor() {
    super('the member has been permanently removed from the cluster');
  }
}

export class ClusterIdMismatchError extends PeerRefusedError {
  readonly kind = 'cluster-id-mismatch';
  constructor(readonly receiverClusterId: bigint, readonly senderClusterId: bigint) {
    super('cluster ID mismatch');
  }
}

export class MemberIdMismatchError extends PeerRefusedError {
  readonly kind = 'member-id-mismatch';
  constructor() {
    super('to field mismatch');
  }
}

/** The call named a peer that was never added (or was removed) to this transport. */
export class PeerNotFoundError extends OperatingError {
  constructor(readonly id: bigint) {
    super(`peer ${id.toString(16)} is not known to the transport`);
  }
}

/** A forwarded call (lease renew / time-to-live) failed: the code and message from the wire. */
export class ForwardError extends OperatingError {
  constructor(readonly code: Status, readonly details: string) {
    super(details);
  }
}

/** No URL answered a Members call with an acceptable membership. */
export class FetchMembersError extends OperatingError {
  constructor(readonly causes: { url: string; error: Error }[]) {
    super(`could not retrieve cluster information from the given URLs (${causes
      .map((c) => `${c.url}: ${c.error.message}`).join('; ')})`);
  }
}

/** The snapshot stream ended before the announced size: the sender vanished or gave up. */
export class SnapshotTruncatedError extends OperatingError {
  constructor(readonly receivedBytes: bigint, readonly totalBytes: bigint) {
    super(`snapshot stream ended after ${receivedBytes} of ${totalBytes} bytes`);
  }
}

/** The snapshot stream carried more than it announced: the file cannot be trusted. */
export class SnapshotOverrunError extends OperatingError {
  constructor(readonly receivedBytes: bigint, readonly totalBytes: bigint) {
    super(`snapshot stream carried ${receivedBytes} bytes, more than the announced ${totalBytes}`);
  }
}

export class SnapshotInFlightError extends OperatingError {
  constructor(readonly id: bigint) {
    super(`a snapshot to peer ${id.toString(16)} is already in flight`);
  }
}

/** Bad construction arguments (a URL we cannot serve, https without credentials). */
export class TransportConfigError extends OperatingError {}

export class TransportStoppedError extends OperatingError {
  constructor() {
    super('peer transport stopped');
  }
}

/** The status a receiver closes a refused call with. */
export function refusalStatus(err: PeerRefusedError, localClusterId: bigint): Partial<StatusObject> {
  const metadata = new Metadata();
  metadata.set(refusalKey, err.kind);
  metadata.set(clusterIdKey, localClusterId.toString(16));
  return { code: Status.FAILED_PRECONDITION, details: err.message, metadata };
}

/**
 * Reads a refusal back from a failed call, or undefined for any other
 * failure. `senderClusterId` is ours, reported in the mismatch error.
 */
export function refusalOf(err: ServiceError | null, senderClusterId: bigint): PeerRefusedError | undefined {
  if (err === null || err.code !== Status.FAILED_PRECONDITION) return undefined;
  const kind = err.metadata?.get(refusalKey)[0];
  switch (kind) {
    case 'removed':
      return new MemberRemovedError();
    case 'member-id-mismatch':
      return new MemberIdMismatchError();
    case 'cluster-id-mismatch': {
      const remote = err.metadata.get(clusterIdKey)[0];
      const remoteId = typeof remote === 'string' && /^[0-9a-f]+$/.test(remote) ? BigInt(`0x${remote}`) : 0n;
      return new ClusterIdMismatchError(remoteId, senderClusterId);
    }
    default:
      return undefined;
  }
}
