import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EtcdServer } from '../etcdserver/server.js';
import { clusterVersion, serverVersion } from '../etcdserver/server.js';
import { createMetrics } from './metrics.js';

/**
 * Plain HTTP on the client port, beside gRPC: /health and /version as etcd
 * 3.4 serves them. The JSON gateway (/v3/...) and /metrics hang off here too.
 */
export function httpHandler(server: EtcdServer): (req: IncomingMessage, res: ServerResponse) => void {
  const metrics = createMetrics(server);
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      metrics.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      }, (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${(err as Error).message}\n`);
      });
      return;
    }
    if (url.pathname === '/version' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, { etcdserver: serverVersion, etcdcluster: clusterVersion });
      return;
    }
    if (url.pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      health(server).then((ok) => sendJson(res, ok ? 200 : 503, { health: ok ? 'true' : 'false' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  };
}

/** Healthy when there is a leader and a linearizable read barrier completes within a second. */
async function health(server: EtcdServer): Promise<boolean> {
  if (server.leaderId === 0n) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      server.linearizableReadBarrier(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), 1000);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
