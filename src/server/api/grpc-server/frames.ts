/**
 * HTTP/2 wire constants (RFC 9113) and the two kinds of protocol error:
 * a connection error ends the connection with GOAWAY, a stream error ends
 * one stream with RST_STREAM (§5.4).
 */

export const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const frameHeaderBytes = 9;

export const enum FrameType {
  Data = 0x0,
  Headers = 0x1,
  Priority = 0x2,
  RstStream = 0x3,
  Settings = 0x4,
  PushPromise = 0x5,
  Ping = 0x6,
  GoAway = 0x7,
  WindowUpdate = 0x8,
  Continuation = 0x9,
}

export const enum Flag {
  EndStream = 0x1,
  Ack = 0x1,
  EndHeaders = 0x4,
  Padded = 0x8,
  Priority = 0x20,
}

export const enum Setting {
  HeaderTableSize = 0x1,
  EnablePush = 0x2,
  MaxConcurrentStreams = 0x3,
  InitialWindowSize = 0x4,
  MaxFrameSize = 0x5,
  MaxHeaderListSize = 0x6,
}

/** Error codes (§7). */
export const enum ErrorCode {
  NoError = 0x0,
  ProtocolError = 0x1,
  InternalError = 0x2,
  FlowControlError = 0x3,
  SettingsTimeout = 0x4,
  StreamClosed = 0x5,
  FrameSizeError = 0x6,
  RefusedStream = 0x7,
  Cancel = 0x8,
  CompressionError = 0x9,
  ConnectError = 0xa,
  EnhanceYourCalm = 0xb,
  InadequateSecurity = 0xc,
  Http11Required = 0xd,
}

/** The smallest and largest SETTINGS_MAX_FRAME_SIZE a peer may announce (§6.5.2). */
export const peerMaxFrameBytesMin = 16_384;
export const peerMaxFrameBytesMax = 2 ** 24 - 1;

/** The connection must end: GOAWAY with `code`, `debug` as its debug data (clients match some of it, e.g. "too_many_pings"). */
export class ConnectionError extends Error {
  constructor(readonly code: ErrorCode, readonly debug: string) {
    super(`HTTP/2 connection error ${code}: ${debug}`);
    this.name = 'ConnectionError';
  }
}

/** One stream must end: RST_STREAM with `code`; the connection carries on. */
export class StreamError extends Error {
  constructor(readonly streamId: number, readonly code: ErrorCode, message: string) {
    super(`HTTP/2 stream ${streamId} error ${code}: ${message}`);
    this.name = 'StreamError';
  }
}
