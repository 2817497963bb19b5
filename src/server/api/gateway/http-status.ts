import { STATUS_CODES, type ServerResponse } from 'node:http';
import { goJsonString } from '../../../cli/go/quote.js';

/**
 * How grpc-gateway 1.6 (the one etcd 3.4.23 is built with) turns a gRPC
 * status into HTTP: the status code table (runtime.HTTPStatusFromCode) and
 * the two error bodies, one for a whole response and one for an error in
 * the middle of a stream.
 */

const httpByGrpc: Record<number, number> = {
  0: 200, // OK
  1: 408, // Canceled
  2: 500, // Unknown
  3: 400, // InvalidArgument
  4: 504, // DeadlineExceeded
  5: 404, // NotFound
  6: 409, // AlreadyExists
  7: 403, // PermissionDenied
  8: 429, // ResourceExhausted
  9: 412, // FailedPrecondition
  10: 409, // Aborted
  11: 400, // OutOfRange
  12: 501, // Unimplemented
  13: 500, // Internal
  14: 503, // Unavailable
  15: 500, // DataLoss
  16: 401, // Unauthenticated
};

export function httpStatusOf(grpcCode: number): number {
  return httpByGrpc[grpcCode] ?? 500;
}

/** A gRPC status as the gateway reports it. */
export interface GatewayStatus {
  code: number;
  message: string;
}

/**
 * runtime.DefaultHTTPError's body: {"error","message","code"}, marshalled
 * by jsonpb, so an empty message and a zero code are left out.
 */
export function errorBody(status: GatewayStatus): string {
  const parts: string[] = [];
  if (status.message !== '') parts.push(`"error":${goJsonString(status.message)}`, `"message":${goJsonString(status.message)}`);
  if (status.code !== 0) parts.push(`"code":${status.code}`);
  return `{${parts.join(',')}}`;
}

/** The chunk that ends a stream with an error (runtime's StreamError; no newline follows it). */
export function streamErrorChunk(status: GatewayStatus): string {
  const http = httpStatusOf(status.code);
  const parts: string[] = [];
  if (status.code !== 0) parts.push(`"grpc_code":${status.code}`);
  parts.push(`"http_code":${http}`);
  if (status.message !== '') parts.push(`"message":${goJsonString(status.message)}`);
  parts.push(`"http_status":${goJsonString(STATUS_CODES[http] ?? '')}`);
  return `{"error":{${parts.join(',')}}}`;
}

/**
 * Answers with a gateway error. `fromServer` marks a status the server
 * sent, which etcd's gateway relays with the content type the gRPC response
 * carried as an HTTP trailer; errors the gateway finds itself (a body it
 * cannot read) have none.
 */
export function sendError(res: ServerResponse, status: GatewayStatus, fromServer: boolean): void {
  const body = errorBody(status);
  if (res.headersSent) {
    res.end();
    return;
  }
  if (fromServer) {
    res.writeHead(httpStatusOf(status.code), { 'Content-Type': 'application/json', Trailer: 'Grpc-Trailer-Content-Type' });
    res.addTrailers({ 'Grpc-Trailer-Content-Type': 'application/grpc' });
    res.end(body);
    return;
  }
  res.writeHead(httpStatusOf(status.code), { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Go's http.Error: a plain text line with nosniff, as the gateway's mux answers unknown paths and methods. */
export function sendPlainError(res: ServerResponse, httpStatus: number, text: string, headers: Record<string, string> = {}): void {
  const body = `${text}\n`;
  res.writeHead(httpStatus, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
