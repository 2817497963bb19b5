/**
 * Plain HTTP against a member's gateway, with Node's fetch, as a browser or
 * curl user would call it: one POST and its whole answer, or a streaming
 * POST read line by line.
 */

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** How long one request may take before the test fails naming it (instead of the whole test timing out). */
const requestTimeoutMs = 30_000;

export async function post(endpoint: string, path: string, body: string | Buffer | undefined, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return answer(`POST ${endpoint}${path}`, () => fetch(`${endpoint}${path}`, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(requestTimeoutMs) }));
}

export async function get(endpoint: string, path: string, method = 'GET'): Promise<HttpAnswer> {
  return answer(`${method} ${endpoint}${path}`, () => fetch(`${endpoint}${path}`, { method, redirect: 'manual', signal: AbortSignal.timeout(requestTimeoutMs) }));
}

async function answer(what: string, request: () => Promise<Response>): Promise<HttpAnswer> {
  try {
    const res = await request();
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

/** A streaming answer (watch, keep-alive, observe, snapshot), read one JSON line at a time. */
export interface LineStream {
  status: number;
  headers: Headers;
  /** The next line, or undefined when the stream ended; throws after `timeoutMs` without one. */
  next(timeoutMs?: number): Promise<string | undefined>;
  /** What arrived after the last newline when the stream ended (grpc-gateway's closing error chunk has none). */
  rest(): string;
  close(): void;
}

export async function openStream(endpoint: string, path: string, body: string, headers: Record<string, string> = {}): Promise<LineStream> {
  const abort = new AbortController();
  const res = await fetch(`${endpoint}${path}`, { method: 'POST', body, headers, signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let ended = false;
  const lines: string[] = [];
  const pull = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      return;
    }
    buffered += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  };
  return {
    status: res.status,
    headers: res.headers,
    async next(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (lines.length === 0 && !ended) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no line from ${path} within ${timeoutMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pull(), new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no line from ${path} within ${timeoutMs} ms`)), left);
        })]).finally(() => clearTimeout(timer));
      }
      return lines.shift();
    },
    rest: () => buffered,
    close: () => abort.abort(),
  };
}

/**
 * A gateway answer with what differs between any two members replaced:
 * cluster and member ids, terms, sizes and indexes of the database and the
 * log, hashes, and the ports in URLs.
 */
export function normalize(text: string): string {
  return text
    .replace(/"(cluster_id|member_id|leader|memberID)":"\d+"/g, '"$1":"<id>"')
    .replace(/"ID":"(\d+)"/g, (m, id: string) => (id.length > 6 ? '"ID":"<id>"' : m))
    .replace(/"(raft_term|raftTerm)":"\d+"/g, '"$1":"<term>"')
    .replace(/"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex|hash)":"?\d+"?/g, '"$1":"<n>"')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
}
