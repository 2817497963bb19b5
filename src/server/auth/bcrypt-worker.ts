import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

/**
 * One bcrypt thread (see bcrypt.ts): hashes and compares passwords off the
 * member's event loop. A job is { id, op: 'hash', password, cost } or
 * { id, op: 'compare', password, hash }; the answer is { id, hash } or
 * { id, match }. Nothing here logs: passwords must never reach a log line.
 */
export type BcryptJob =
  | { id: number; op: 'hash'; password: string; cost: number }
  | { id: number; op: 'compare'; password: string; hash: string };

export type BcryptAnswer = { id: number; hash?: string; match?: boolean; error?: string };

parentPort?.on('message', (job: BcryptJob) => {
  let answer: BcryptAnswer;
  try {
    answer = job.op === 'hash'
      ? { id: job.id, hash: bcrypt.hashSync(job.password, job.cost) }
      : { id: job.id, match: bcrypt.compareSync(job.password, job.hash) };
  } catch (err) {
    answer = { id: job.id, error: (err as Error).message };
  }
  parentPort!.postMessage(answer);
});
