import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * Which process owns the client end of a loopback TCP connection, read from
 * /proc (Linux): the socket whose local port is the connection's remote port
 * gives an inode, and the process holding a descriptor for that inode is the
 * owner. The fault proxy uses it to tell which member dialled it, so that a
 * member's outgoing peer traffic can be cut as well as its incoming traffic:
 * members dial the URLs in the membership, which are the same for everyone.
 */
export function socketOwner(localPort: number, remotePort: number, candidates: readonly number[]): number | undefined {
  const inode = socketInode(localPort, remotePort);
  if (inode === undefined) return undefined;
  const wanted = `socket:[${inode}]`;
  for (const pid of candidates) {
    if (holdsSocket(pid, wanted)) return pid;
  }
  return undefined;
}

/** The inode of the IPv4 socket 127.0.0.1:localPort -> 127.0.0.1:remotePort, from /proc/net/tcp. */
function socketInode(localPort: number, remotePort: number): string | undefined {
  const local = `0100007F:${hexPort(localPort)}`;
  const remote = `0100007F:${hexPort(remotePort)}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[2] === remote) return fields[9];
  }
  return undefined;
}

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

function holdsSocket(pid: number, wanted: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === wanted) return true;
    } catch {
      // Closed while we looked.
    }
  }
  return false;
}
