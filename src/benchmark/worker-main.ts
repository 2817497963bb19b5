import { parentPort, workerData } from 'node:worker_threads';
import { runClosedLoop, type LoadOptions } from './closed-loop.js';
import { openConnections, type TransportKind } from './connection.js';
import { createWorkload, type WorkloadSpec } from './workload.js';

/**
 * A load-generator worker thread: opens its share of the connections, says
 * "ready", runs its share of the clients when told "start", and hands its
 * latencies back (the sample buffer is transferred, not copied).
 */

export interface WorkerInput {
  endpoints: string[];
  conns: number;
  transport: TransportKind;
  workload: WorkloadSpec;
  load: LoadOptions;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; latenciesMs: Float64Array; errors: Record<string, number>; elapsedMs: number; completedAll: number };

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker-main runs only as a worker thread');
  const input = workerData as WorkerInput;
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
  try {
    const workload = createWorkload(input.workload);
    const connections = await openConnections(input.transport, input.endpoints, input.conns);
    port.once('message', () => {
      void runClosedLoop(connections, workload, input.load).then(async (result) => {
        await Promise.all(connections.map((c) => c.close()));
        const { latenciesMs, errors, elapsedMs, completedAll } = result;
        post({ type: 'result', latenciesMs, errors, elapsedMs, completedAll }, [latenciesMs.buffer as ArrayBuffer]);
      });
    });
    post({ type: 'ready' });
  } catch (err) {
    post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
}

void main();
