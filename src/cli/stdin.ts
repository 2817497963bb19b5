/**
 * Reading standard input as bytes: whole (a value for `put`), or line by
 * line (the txn grammar, whose interactive prompts must appear before the
 * lines are typed).
 */
export async function readAll(stream: NodeJS.ReadableStream = process.stdin): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** The input ended before a line did (Go's io.EOF from bufio.Reader.ReadString, which etcdctl prints as "EOF"). */
export class EndOfInputError extends Error {
  constructor() {
    super('EOF');
    this.name = 'EndOfInputError';
  }
}

export interface LineSource {
  /** The next line without its newline, as a byte string (one char per byte). Throws EndOfInputError at the end. */
  next(): Promise<string>;
}

export class StreamLineSource implements LineSource {
  private buffer = Buffer.alloc(0);
  private ended = false;
  private readonly chunks: AsyncIterator<Buffer | string>;

  constructor(stream: NodeJS.ReadableStream = process.stdin) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  }

  async next(): Promise<string> {
    for (;;) {
      const newline = this.buffer.indexOf(0x0a);
      if (newline >= 0) {
        const line = this.buffer.subarray(0, newline).toString('latin1');
        this.buffer = this.buffer.subarray(newline + 1);
        return line;
      }
      // Like bufio's ReadString, a last line without a newline is an error, not a line.
      if (this.ended) throw new EndOfInputError();
      const { value, done } = await this.chunks.next();
      if (done === true) {
        this.ended = true;
        continue;
      }
      const chunk = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      this.buffer = Buffer.concat([this.buffer, chunk]);
    }
  }

  /** Stops reading (and lets the process exit although the writer keeps the input open). */
  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

/** Lines from a fixed text (tests). */
export class TextLineSource implements LineSource {
  private rest: string;

  constructor(text: string) {
    this.rest = Buffer.from(text, 'utf8').toString('latin1');
  }

  async next(): Promise<string> {
    const newline = this.rest.indexOf('\n');
    if (newline < 0) throw new EndOfInputError();
    const line = this.rest.slice(0, newline);
    this.rest = this.rest.slice(newline + 1);
    return line;
  }
}
