import type { RobustCluster } from './cluster.js';

/**
 * Invariant probes (reliability-anchors §8): every member's revision and
 * applied index never go back, across restarts too. A member whose data was
 * wiped (replaced, restored from a snapshot) starts a new generation.
 */
export interface ProbeViolation {
  member: string;
  message: string;
}

const probeIntervalMs = 200;

export class Probes {
  readonly violations: ProbeViolation[] = [];
  samples = 0;
  private readonly highest = new Map<string, { generation: number; revision: bigint; applied: bigint }>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;

  constructor(private readonly cluster: RobustCluster) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), probeIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      await Promise.all(this.cluster.live().map(async (m) => {
        const generation = m.generation;
        const status = await (await this.cluster.clientOf(m.name)).maintenance.status({ timeoutMs: 1000 }).catch(() => undefined);
        if (status === undefined || m.generation !== generation) return;
        this.samples++;
        this.observe(m.name, generation, status.header!.revision, status.raftAppliedIndex);
      }));
    } finally {
      this.inFlight = false;
    }
  }

  private observe(member: string, generation: number, revision: bigint, applied: bigint): void {
    const before = this.highest.get(member);
    if (before === undefined || before.generation !== generation) {
      this.highest.set(member, { generation, revision, applied });
      return;
    }
    if (revision < before.revision) this.violations.push({ member, message: `revision went back from ${before.revision} to ${revision}` });
    if (applied < before.applied) this.violations.push({ member, message: `applied index went back from ${before.applied} to ${applied}` });
    this.highest.set(member, { generation, revision: revision > before.revision ? revision : before.revision, applied: applied > before.applied ? applied : before.applied });
  }
}
