import { Session } from 'node:inspector';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * `/debug/pprof/` under --enable-pprof: etcd's runtime profiling endpoints,
 * with Node's inspector in place of Go's runtime/pprof. The paths and query
 * parameters are Go's, the formats are V8's (open them in Chrome DevTools or
 * any .cpuprofile / .heapsnapshot viewer):
 *
 *   /debug/pprof/                   index of the profiles
 *   /debug/pprof/profile?seconds=N  CPU profile of the member for N seconds (default 30), a .cpuprofile
 *   /debug/pprof/heap               heap snapshot, a .heapsnapshot
 *
 * One profile runs at a time; a second request gets 409. A heap snapshot
 * stops the member while V8 writes it, as a Go heap dump would not: take it
 * from a member that can afford a pause (its election timeout should exceed
 * the pause on a follower, or leadership moves).
 */
export const pprofPrefix = '/debug/pprof/';

/** Longest CPU profile served, in seconds (Go's net/http/pprof refuses more than the server's write timeout). */
export const pprofProfileSecondsMax = 300;
const pprofProfileSecondsDefault = 30;

let busy = false;

/** Serves a /debug/pprof/ request; false when the path is not a profile (the caller answers 404). */
export function servePprof(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const name = url.pathname.slice(pprofPrefix.length);
  if (name === '') {
    send(res, 200, 'text/html; charset=utf-8', `<html><head><title>/debug/pprof/</title></head><body>
/debug/pprof/<br><br>
<a href="profile?seconds=30">profile</a>: CPU profile (V8 .cpuprofile); add ?seconds=N<br>
<a href="heap">heap</a>: heap snapshot (V8 .heapsnapshot)<br>
</body></html>\n`);
    return true;
  }
  if (name !== 'profile' && name !== 'heap') return false;
  if (busy) {
    send(res, 409, 'text/plain; charset=utf-8', 'a profile is already being taken\n');
    return true;
  }
  if (name === 'profile') {
    const seconds = url.searchParams.has('seconds') ? Number(url.searchParams.get('seconds')) : pprofProfileSecondsDefault;
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > pprofProfileSecondsMax) {
      send(res, 400, 'text/plain; charset=utf-8', `seconds must be in (0, ${pprofProfileSecondsMax}]\n`);
      return true;
    }
    busy = true;
    void cpuProfile(seconds * 1000, req).then(
      (profile) => send(res, 200, 'application/json', profile, 'profile.cpuprofile'),
      (err: unknown) => send(res, 500, 'text/plain; charset=utf-8', `${(err as Error).message}\n`),
    ).finally(() => {
      busy = false;
    });
    return true;
  }
  busy = true;
  heapSnapshot(res).finally(() => {
    busy = false;
  });
  return true;
}

function send(res: ServerResponse, code: number, type: string, body: string, file?: string): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { 'content-type': type, 'content-length': Buffer.byteLength(body) };
  if (file !== undefined) headers['content-disposition'] = `attachment; filename="${file}"`;
  res.writeHead(code, headers);
  res.end(body);
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

/** Samples the member's thread for `ms`, or until the client goes away. */
async function cpuProfile(ms: number, req: IncomingMessage): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.start');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      req.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}

/** Streams a heap snapshot in the chunks V8 writes it in. */
async function heapSnapshot(res: ServerResponse): Promise<void> {
  const session = new Session();
  session.connect();
  res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="heap.heapsnapshot"' });
  session.on('HeapProfiler.addHeapSnapshotChunk', (m) => res.write((m.params as { chunk: string }).chunk));
  try {
    await post(session, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } catch {
    res.destroy();
  } finally {
    session.disconnect();
    res.end();
  }
}
