import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';

/** The part of a generated message codec a call needs. */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** One unary call with a deadline, as a promise rejecting with the grpc-js ServiceError. */
export function unaryCall<Req, Res>(
  client: Client,
  path: string,
  codec: { req: Codec<Req>; res: Codec<Res> },
  request: Req,
  metadata: Metadata,
  timeoutMs: number,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    client.makeUnaryRequest<Req, Res>(
      path,
      (r: Req) => Buffer.from(codec.req.encode(r).finish()),
      (b: Buffer) => codec.res.decode(b),
      request,
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, res?: Res) => (err !== null ? reject(err) : resolve(res!)),
    );
  });
}
