import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { armFailpoint, describeFailpoints, disarmFailpoint } from './failpoint.js';

/**
 * The failpoints of a running member, over HTTP on a loopback address, in
 * the shape of etcd's gofail endpoint (GOFAIL_HTTP), so that a test can fire
 * a failpoint on the member it chose at the moment it chose:
 *
 *   curl -XPUT -d '1*panic' http://127.0.0.1:22381/raftBeforeSave
 *   curl http://127.0.0.1:22381/              # raftBeforeSave=1*panic
 *   curl -XDELETE http://127.0.0.1:22381/raftBeforeSave
 *
 * Only started when ETCDTS_FAILPOINTS_HTTP is set; it never keeps the process alive.
 */
const requestBytesMax = 4096;

export function serveFailpoints(address: string): Server {
  const colon = address.lastIndexOf(':');
  const host = colon > 0 ? address.slice(0, colon) : '127.0.0.1';
  const port = Number(address.slice(colon + 1));
  const server = createServer((req, res) => void handle(req, res));
  server.on('error', (err) => process.stderr.write(`failpoint HTTP endpoint ${address}: ${err.message}\n`));
  server.listen(port, host);
  server.unref();
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const name = decodeURIComponent((req.url ?? '/').slice(1));
  try {
    if (req.method === 'GET' && name === '') return reply(res, 200, describeFailpoints().map((l) => `${l}\n`).join(''));
    if (req.method === 'GET') return reply(res, 200, describeFailpoints().find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1) ?? '');
    if (req.method === 'PUT' && name !== '') {
      armFailpoint(name, (await body(req)).trim());
      return reply(res, 204, '');
    }
    if (req.method === 'DELETE' && name !== '') return reply(res, disarmFailpoint(name) ? 204 : 404, '');
    reply(res, 405, 'use GET /, GET /name, PUT /name or DELETE /name\n');
  } catch (err) {
    reply(res, 400, `${(err as Error).message}\n`);
  }
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(text);
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > requestBytesMax) throw new Error('request too large');
  }
  return text;
}
