/**
 * Base class of every expected, typed error (style.md §11): a bad request, a
 * compacted revision, no leader. These travel to the client mapped to etcd's
 * wire errors. Anything else thrown inside the apply path is a bug and must
 * crash the member rather than be reported as a request failure.
 */
export class OperatingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * An error another member answered with, passed on as it came (its gRPC code
 * and etcd's message), for calls this member forwards to the leader.
 */
export class ForwardedError extends OperatingError {
  constructor(readonly code: number, readonly details: string) {
    super(details);
  }
}
