import {
  glitchCreditPerRequest, glitchesBurst, glitchesPerSecond, keepaliveWithoutStreamMinTimeMs, pingStrikesMax, refusedStreamsInARowMax,
  streamResetsBurst, streamResetsPerSecond, unsentAcksMax,
} from './limits.js';
import { TokenBucket } from './token-bucket.js';

/** grpc-go's keepalive.EnforcementPolicy. */
export interface KeepalivePolicy {
  /** Client PINGs sooner than this after the previous one are strikes. */
  minTimeMs: number;
  /** Whether the same holds with no stream open (otherwise keepaliveWithoutStreamMinTimeMs, 2 h, does). */
  permitWithoutStream: boolean;
}

/**
 * What one client may make us do without a request to show for it
 * (limits.ts has each bound and its model): stream resets, its own and
 * those it provokes; frames that carry no request ("glitches"); streams
 * refused in a row; acknowledgements owed; keepalive PING strikes. Pure:
 * time is the caller's (ms, monotonic). Each method answers whether the
 * client is still within its budget; the connection turns a "no" into
 * GOAWAY ENHANCE_YOUR_CALM.
 */
export class ClientBudgets {
  private readonly resets: TokenBucket;
  private readonly glitches: TokenBucket;
  private refusedInARow = 0;
  private settingsFrames = 0;
  private goAways = 0;
  /** PING and SETTINGS ACKs written since the socket last took everything. */
  unsentAcks = 0;
  private lastPingAt: number | undefined;
  private pingStrikes = 0;

  constructor(private readonly keepalive: KeepalivePolicy, nowMs: number) {
    this.resets = new TokenBucket(streamResetsBurst, streamResetsPerSecond, nowMs);
    this.glitches = new TokenBucket(glitchesBurst, glitchesPerSecond, nowMs);
  }

  /** A stream reset by the client while it ran, or by us because of the client. */
  reset(nowMs: number): boolean {
    return this.resets.take(nowMs);
  }

  /** A frame that carried no request. */
  glitch(nowMs: number): boolean {
    return this.glitches.take(nowMs);
  }

  /** A request accepted: refusals start over, and it earns a little credit for the stray frames that come with calls. */
  request(): void {
    this.refusedInARow = 0;
    this.glitches.give(glitchCreditPerRequest);
  }

  /** A stream refused (REFUSED_STREAM). */
  refused(): boolean {
    return ++this.refusedInARow <= refusedStreamsInARowMax;
  }

  /** A SETTINGS frame: the first is the handshake's, every later one a glitch. */
  settings(nowMs: number): boolean {
    return ++this.settingsFrames === 1 || this.glitch(nowMs);
  }

  /** A GOAWAY from the client: the first ends the connection gracefully, any other is a glitch. */
  goAway(nowMs: number): boolean {
    return ++this.goAways === 1 || this.glitch(nowMs);
  }

  /** An ACK we write (PING or SETTINGS). */
  ack(): boolean {
    return ++this.unsentAcks <= unsentAcksMax;
  }

  /** The socket took everything we wrote: no ACK is owed any more. */
  acksTaken(): void {
    this.unsentAcks = 0;
  }

  /**
   * A PING from the client, grpc-go's handlePing: one sooner than the
   * minimum time after the previous one is a strike (with no stream open
   * and PermitWithoutStream off, sooner than 2 h), our HEADERS or DATA
   * since the previous PING wipe the strikes (a client's BDP pings answer
   * our data), and the strike after pingStrikesMax is too many.
   */
  ping(nowMs: number, streamsOpen: boolean, wroteStreamFramesSince: boolean): boolean {
    const last = this.lastPingAt;
    this.lastPingAt = nowMs;
    if (wroteStreamFramesSince) {
      this.pingStrikes = 0;
      return true;
    }
    if (last === undefined) return true;
    const minTimeMs = !streamsOpen && !this.keepalive.permitWithoutStream ? keepaliveWithoutStreamMinTimeMs : this.keepalive.minTimeMs;
    if (nowMs - last < minTimeMs) this.pingStrikes++;
    return this.pingStrikes <= pingStrikesMax;
  }
}
