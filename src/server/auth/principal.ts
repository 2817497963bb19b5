import type { PeerCertificate } from 'node:tls';

/**
 * The parts of a gRPC server call (ours or grpc-js's) that say who calls:
 * its metadata, where etcd's clients put the token, and the TLS context with
 * the client certificate the handshake verified.
 */
export interface CallCredentials {
  metadata: { get(key: string): unknown[] };
  getAuthContext?(): { sslPeerCertificate?: PeerCertificate };
}

/** The token a call carries: `token` metadata, or `authorization` as etcd's gateway sends it. */
export function tokenOf(call: CallCredentials): string | undefined {
  for (const key of ['token', 'authorization']) {
    const value = call.metadata.get(key)[0];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * The CN of the client certificate, when the TLS handshake verified it (the
 * call's auth context carries no unverified certificate). Like Go's
 * pkix.Name, the last CN of the subject wins when there are several.
 */
export function certificateUser(call: CallCredentials): string | undefined {
  const cn: unknown = call.getAuthContext?.().sslPeerCertificate?.subject?.CN;
  const name = Array.isArray(cn) ? cn[cn.length - 1] : cn;
  return typeof name === 'string' && name !== '' ? name : undefined;
}
