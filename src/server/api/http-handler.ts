import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EtcdServer } from '../etcdserver/server.js';
import { clusterVersion, serverVersion } from '../etcdserver/server.js';
import { createMetrics } from './metrics.js';
import { pprofPrefix, servePprof } from './pprof.js';

export interface HttpHandlerOptions {
  /** 'metrics': the --listen-metrics-urls listener, which serves /metrics and /health only (and pprof). */
  role?: 'client' | 'metrics';
}

/**
 * Plain HTTP on the client port, beside gRPC: /health and /version as etcd
 * 3.4 serves them. The JSON gateway (/v3/...) and /metrics hang off here too,
 * and /debug/pprof/ under --enable-pprof. etcd's access controller comes
 * first: on plaintext connections the Host header must be in
 * --host-whitelist (DNS rebinding, CVE-2018-5702), and --cors decides the
 * CORS headers.
 */
export function httpHandler(server: EtcdServer, options: HttpHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const metrics = createMetrics(server);
  const clientRole = options.role !== 'metrics';
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!accessAllowed(server, req, res)) return;
    if (server.config.enablePprof && (url.pathname === '/debug/pprof' || url.pathname.startsWith(pprofPrefix))) {
      if (url.pathname === '/debug/pprof') url.pathname = pprofPrefix;
      if (servePprof(req, res, url)) return;
    }
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
    if (clientRole && url.pathname === '/version' && (req.method === 'GET' || req.method === 'HEAD')) {
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

/**
 * etcd's accessController (embed/serve.go): refuses a plaintext request for
 * a host outside --host-whitelist with 421, writes the CORS headers
 * --cors allows, and answers OPTIONS preflights itself.
 */
function accessAllowed(server: EtcdServer, req: IncomingMessage, res: ServerResponse): boolean {
  const { hostWhitelist, cors } = server.config;
  const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
  if (!secure && !hostWhitelist.includes('*')) {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    if (!hostWhitelist.includes(host)) {
      server.log.warn({ host }, 'rejecting HTTP request to prevent DNS rebinding attacks');
      const text = `invalid host "${host}" in request (CVE-2018-5702)\n`;
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return false;
    }
  }
  const origin = req.headers.origin;
  const allowed = cors.includes('*') ? '*' : origin !== undefined && cors.includes(origin) ? origin : undefined;
  if (allowed !== undefined) {
    res.setHeader('Access-Control-Allow-Origin', allowed);
    res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE');
    res.setHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization');
  }
  if (req.method === 'OPTIONS') {
    res.writeHead(200);
    res.end();
    return false;
  }
  return true;
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
