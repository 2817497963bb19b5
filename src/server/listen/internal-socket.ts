import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The longest unix socket path Linux takes (sun_path holds 108 octets with its terminating zero). */
const socketPathBytesMax = 107;

export interface InternalSocket {
  /** The endpoint a client of this member's own services dials: unix:///.../grpc.sock */
  endpoint: string;
  close(): Promise<void>;
}

/**
 * A unix socket only the member's own user can reach, for the member's
 * in-process clients (the Lock and Election services run their recipes
 * through one). It lives in the data dir (created 0700), or, when that path
 * is too long for a socket, in a private temporary directory; either way no
 * TLS is needed on it and no listen URL exposes it.
 */
export async function openInternalSocket(dataDir: string, serve: (socket: Socket) => void): Promise<InternalSocket> {
  let path = join(dataDir, 'member', 'grpc.sock');
  let tempDir: string | undefined;
  if (Buffer.byteLength(path) > socketPathBytesMax) {
    tempDir = await mkdtemp(join(tmpdir(), 'etcdts-'));
    path = join(tempDir, 'grpc.sock');
  }
  // A member killed before it could clean up leaves its socket file behind.
  await rm(path, { force: true });
  const server = createServer((socket) => serve(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    endpoint: `unix://${path}`,
    close: async () => {
      server.close();
      await rm(tempDir ?? path, { recursive: true, force: true });
    },
  };
}
