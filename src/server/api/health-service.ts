import { status as Status } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus, type HealthCheckRequest, type HealthCheckResponse, type HealthServer,
} from '../../proto/gen/grpc/health/v1/health.js';
import { OperatingError } from '../operating-error.js';
import { registerWireError } from './grpc-errors.js';
import { servingStatus, type HealthSubject } from './health.js';
import { unary } from './unary.js';

/** grpc-go's answer to a Check for a service name it does not know. */
export class UnknownHealthServiceError extends OperatingError {
  constructor() {
    super('unknown service');
  }
}
registerWireError(UnknownHealthServiceError, Status.NOT_FOUND, 'unknown service');

/** The one service name the member answers for: "" (the server as a whole), as etcd registers it. */
const wholeServer = '';

/** A status this old is evaluated again before Check answers with it. */
export const healthStatusMaxAgeMs = 1000;

/** How often the status is evaluated while Watch streams are open. */
export const healthWatchIntervalMs = 1000;

/**
 * The member's gRPC serving status, evaluated on demand: Check reuses an
 * evaluation younger than healthStatusMaxAgeMs, concurrent askers share one,
 * and only while someone watches does a timer keep evaluating, so an
 * unwatched member does no background work for it.
 */
export class ServingMonitor {
  private status: ServingStatus | undefined;
  private evaluatedAt = -Infinity;
  private pending: Promise<ServingStatus> | undefined;
  private readonly watchers = new Set<(status: ServingStatus) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly member: HealthSubject) {}

  current(): Promise<ServingStatus> {
    if (this.status !== undefined && performance.now() - this.evaluatedAt < healthStatusMaxAgeMs) return Promise.resolve(this.status);
    return this.evaluate();
  }

  /** Calls `onChange` with the status now and on every change; returns the unsubscribe function. */
  watch(onChange: (status: ServingStatus) => void): () => void {
    this.watchers.add(onChange);
    void this.current().then((s) => {
      if (this.watchers.has(onChange)) onChange(s);
    });
    this.timer ??= setInterval(() => void this.evaluate(), healthWatchIntervalMs).unref();
    return () => {
      this.watchers.delete(onChange);
      if (this.watchers.size > 0) return;
      clearInterval(this.timer);
      this.timer = undefined;
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watchers.clear();
  }

  private evaluate(): Promise<ServingStatus> {
    this.pending ??= servingStatus(this.member).then((s) => {
      this.pending = undefined;
      const changed = s !== this.status;
      this.status = s;
      this.evaluatedAt = performance.now();
      if (changed) for (const w of this.watchers) w(s);
      return s;
    });
    return this.pending;
  }
}

/**
 * grpc.health.v1.Health as grpc-go's health server answers it, for the
 * status the monitor keeps: Check gives the status or NOT_FOUND "unknown
 * service"; Watch gives the status at once and every change after, and
 * SERVICE_UNKNOWN (once, keeping the stream open) for an unknown name. No
 * credentials are needed, as with etcd.
 */
export function healthService(monitor: ServingMonitor): HealthServer {
  return {
    check: unary(async (r: HealthCheckRequest): Promise<HealthCheckResponse> => {
      if (r.service !== wholeServer) throw new UnknownHealthServiceError();
      return { status: await monitor.current() };
    }),
    watch: (call) => {
      if (call.request.service !== wholeServer) {
        call.write({ status: ServingStatus.SERVICE_UNKNOWN });
        return;
      }
      let last: ServingStatus | undefined;
      const unsubscribe = monitor.watch((status) => {
        if (status === last) return;
        last = status;
        call.write({ status });
      });
      for (const event of ['cancelled', 'close', 'error'] as const) call.on(event, unsubscribe);
    },
  };
}
