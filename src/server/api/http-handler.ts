import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { EtcdServer } from '../etcdserver/server.js';
import { clusterVersion, serverVersion } from '../etcdserver/server.js';
import { memberMetrics } from './metrics/member-metrics.js';
import { HealthEndpoints } from './health-http.js';
import type { Gateway } from './gateway/gateway.js';
import { sendPlainError } from './gateway/http-status.js';
import { pprofPrefix, servePprof } from './pprof.js';

export interface HttpHandlerOptions {
  /** The JSON gateway, on the client URLs; a metrics-only listener has none. */
  gateway?: Gateway;
  /** 'metrics': the --listen-metrics-urls listener, which serves /metrics and the health endpoints only (and pprof). */
  role?: 'client' | 'metrics';
}

/**
 * Plain HTTP on a member's port, beside gRPC, as etcd 3.4 serves it: the
 * JSON gateway at /v3/ (and /v3beta/), /metrics, /version, /health, and
 * etcd 3.6's /livez and /readyz, and /debug/pprof/ under --enable-pprof.
 * Like etcd's HTTP mux: its access controller first (--host-whitelist on
 * plaintext connections, --cors headers, OPTIONS answered at once), a path
 * that is not clean redirected to its clean form, "404 page not found" for
 * the rest. The metrics listener (--listen-metrics-urls) uses the same
 * handler without a gateway.
 */
export function httpHandler(server: EtcdServer, options: HttpHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const metrics = memberMetrics(server);
  const health = new HealthEndpoints(server, metrics);
  const gateway = options.gateway;
  const clientRole = options.role !== 'metrics';
  return (req, res) => {
    if (!accessAllowed(server, req, res)) return;
    // Appended, not resolved: a request for //health is a path, not a host.
    const url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? req.url : `/${req.url}`}`);
    if (server.config.enablePprof && (url.pathname === '/debug/pprof' || url.pathname.startsWith(pprofPrefix))) {
      if (url.pathname === '/debug/pprof') url.pathname = pprofPrefix;
      if (servePprof(req, res, url)) return;
    }
    // etcd 3.4 still answers its beta paths: /v3beta/kv/range is /v3/kv/range.
    const path = url.pathname.startsWith('/v3beta/') ? `/v3/${url.pathname.slice('/v3beta/'.length)}` : url.pathname;
    const clean = cleanPath(path);
    if (clean !== path) {
      redirect(req, res, clean + url.search);
      return;
    }
    if (gateway !== undefined && path === '/v3') {
      redirect(req, res, `/v3/${url.search}`);
      return;
    }
    if (gateway !== undefined && path.startsWith('/v3/')) {
      gateway.serve(req, res, path.slice('/v3/'.length));
      return;
    }
    if (path === '/metrics') {
      metrics.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      }, (err: unknown) => sendPlainError(res, 500, (err as Error).message));
      return;
    }
    if (clientRole && path === '/version') {
      if (req.method !== 'GET') {
        sendPlainError(res, 405, 'Method Not Allowed', { Allow: 'GET' });
        return;
      }
      const body = JSON.stringify({ etcdserver: serverVersion, etcdcluster: clusterVersion });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (health.serve(req, res, path, url.searchParams)) return;
    sendPlainError(res, 404, '404 page not found');
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

/** Go's ServeMux cleanPath: path.Clean, keeping a trailing slash. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : `/${p}`;
  const cleaned = posix.normalize(rooted).replace(/\/+$/, '') || '/';
  return rooted.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/** Go's http.Redirect with 301, as ServeMux sends it: a small HTML body for GET only. */
function redirect(req: IncomingMessage, res: ServerResponse, location: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(301, { Location: location, 'Content-Length': 0 });
    res.end();
    return;
  }
  const body = req.method === 'GET' ? `<a href="${location}">Moved Permanently</a>.\n\n` : '';
  res.writeHead(301, { 'Content-Type': 'text/html; charset=utf-8', Location: location, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
