import { Worker } from 'node:worker_threads';
import { bcryptQueueMax, bcryptThreads, passwordBytesMax } from '../constants.js';
import { TooManyRequestsError } from '../etcdserver/errors.js';
import { PasswordTooLongError } from './errors.js';
import type { BcryptAnswer, BcryptJob } from './bcrypt-worker.js';

/**
 * Password hashing with bcrypt, in `$2b$` form, which Go's
 * golang.org/x/crypto/bcrypt (etcd's) reads, as this reads Go's `$2a$`.
 *
 * The implementation is bcryptjs, plain JavaScript: it installs from the npm
 * registry with nothing to compile or download, on any platform Node runs
 * on. At cost 10 one hash takes about 65 ms on this project's machines, close
 * to Go's native code; the native Node bindings are 2-3x faster but need a
 * compiler or per-platform prebuilt binaries. Those 65 ms would stall Raft
 * heartbeats and every other request if they ran on the event loop, so
 * hashing runs on `bcryptThreads` worker threads, with at most
 * `bcryptQueueMax` jobs waiting: bcrypt is the brake on password guessing,
 * and the queue bound keeps a flood of Authenticate calls from queueing
 * without end (they get "too many requests" instead).
 */
export interface PasswordHasher {
  hash(password: string, cost: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Refuses a password longer than bcrypt reads, rather than cut it silently. */
export function checkPasswordLength(password: string): void {
  if (Buffer.byteLength(password, 'utf8') > passwordBytesMax) throw new PasswordTooLongError();
}

type Pending = { resolve: (a: BcryptAnswer) => void; reject: (e: Error) => void };

export class BcryptPool implements PasswordHasher {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ job: BcryptJob; pending: Pending }> = [];
  private readonly running = new Map<number, Pending & { worker: Worker }>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly threads = bcryptThreads, private readonly queueMax = bcryptQueueMax) {}

  async hash(password: string, cost: number): Promise<string> {
    checkPasswordLength(password);
    const answer = await this.run({ id: this.nextId++, op: 'hash', password, cost });
    return answer.hash!;
  }

  async compare(password: string, hash: string): Promise<boolean> {
    if (Buffer.byteLength(password, 'utf8') > passwordBytesMax) return false;
    const answer = await this.run({ id: this.nextId++, op: 'compare', password, hash });
    return answer.match === true;
  }

  private run(job: BcryptJob): Promise<BcryptAnswer> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool is closed'));
    if (this.queue.length >= this.queueMax) return Promise.reject(new TooManyRequestsError());
    return new Promise<BcryptAnswer>((resolve, reject) => {
      this.queue.push({ job, pending: { resolve, reject } });
      this.dispatch();
    }).then((answer) => {
      if (answer.error !== undefined) throw new Error(`bcrypt: ${answer.error}`);
      return answer;
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? this.spawn();
      if (worker === undefined) return;
      const { job, pending } = this.queue.shift()!;
      this.running.set(job.id, { ...pending, worker });
      worker.ref();
      worker.postMessage(job);
    }
  }

  /** Starts another thread if fewer than `threads` exist (threads start on first use). */
  private spawn(): Worker | undefined {
    if (this.workers.length >= this.threads) return undefined;
    const worker = new Worker(new URL('./bcrypt-worker.js', import.meta.url));
    worker.on('message', (answer: BcryptAnswer) => {
      const pending = this.running.get(answer.id);
      this.running.delete(answer.id);
      // An idle thread must not keep the process alive.
      worker.unref();
      this.idle.push(worker);
      pending?.resolve(answer);
      this.dispatch();
    });
    worker.on('error', (err) => this.fail(worker, err));
    this.workers.push(worker);
    return worker;
  }

  /** A thread died (a bug): fail what it held and replace it on the next job. */
  private fail(worker: Worker, err: Error): void {
    this.workers.splice(this.workers.indexOf(worker), 1);
    for (const [id, pending] of this.running) {
      if (pending.worker !== worker) continue;
      this.running.delete(id);
      pending.reject(err);
    }
    this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    const error = new Error('bcrypt pool is closed');
    for (const { pending } of this.queue.splice(0)) pending.reject(error);
    for (const pending of this.running.values()) pending.reject(error);
    this.running.clear();
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    this.idle.length = 0;
  }
}
