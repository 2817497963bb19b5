import type { IncomingMessage, ServerResponse } from 'node:http';
import { legacyHealth, probeChecks, runChecks, type HealthCheck, type HealthSubject } from './health.js';
import type { MemberMetrics } from './metrics/member-metrics.js';
import { sendPlainError } from './gateway/http-status.js';

/**
 * The HTTP health endpoints, answered byte for byte as etcd answers them:
 * /health as 3.4 (JSON, 503 with a newline when false), /livez and /readyz
 * (and /livez/<check>, /readyz/<check>) as 3.6 (text, "ok", the check list
 * with ?verbose or on failure). All take GET only.
 */
export class HealthEndpoints {
  private readonly probes: { livez: Map<string, HealthCheck>; readyz: Map<string, HealthCheck> };

  constructor(private readonly member: HealthSubject, private readonly metrics: MemberMetrics) {
    this.probes = probeChecks(member);
  }

  /** Serves the path if it is a health endpoint; false when it is not one. */
  serve(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): boolean {
    if (path === '/health') {
      if (allowGet(req, res)) void this.legacy(res, query);
      return true;
    }
    const [, type, check, ...rest] = path.split('/');
    if ((type !== 'livez' && type !== 'readyz') || rest.length > 0) return false;
    const checks = this.probes[type];
    if (check !== undefined && !checks.has(check)) return false;
    if (allowGet(req, res)) void this.probe(res, type, check, query);
    return true;
  }

  private async legacy(res: ServerResponse, query: URLSearchParams): Promise<void> {
    const exclude = new Set(query.getAll('exclude').filter((a) => a !== ''));
    const ok = await legacyHealth(this.member, exclude, query.get('serializable') === 'true');
    if (ok) this.metrics.health.success++;
    else this.metrics.health.failures++;
    const body = JSON.stringify({ health: ok ? 'true' : 'false' });
    if (!ok) {
      sendPlainError(res, 503, body);
      return;
    }
    // Go's server sniffs the type of a body written without one: text/plain for JSON.
    res.writeHead(200, { 'Content-Length': Buffer.byteLength(body), 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(body);
  }

  private async probe(res: ServerResponse, type: 'livez' | 'readyz', check: string | undefined, query: URLSearchParams): Promise<void> {
    const all = this.probes[type];
    const excluded = new Set(query.getAll('exclude'));
    const selected: Array<[string, HealthCheck]> = check !== undefined ? [[check, all.get(check)!]] : [...all].filter(([name]) => !excluded.has(name));
    const results = await runChecks(selected);
    for (const r of results) this.metrics.recordCheck(type, r.name, r.error === undefined);
    const report = results.map((r) => (r.error === undefined ? `[+]${r.name} ok\n` : `[-]${r.name} failed: ${r.error}\n`)).join('');
    // A failure always says why; success says so only when asked (?verbose).
    if (results.some((r) => r.error !== undefined)) {
      sendPlainError(res, 503, report);
      return;
    }
    const body = `${query.has('verbose') ? report : ''}ok\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** etcd's health handlers take GET only, and say so. */
function allowGet(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET') return true;
  sendPlainError(res, 405, 'Method Not Allowed', { Allow: 'GET' });
  return false;
}
