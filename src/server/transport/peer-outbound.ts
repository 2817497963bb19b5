import { Client, Metadata, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { PeerAck, type PeerHeader } from '../../proto/gen/etcdtspb/peer.js';
import type { Message } from '../../proto/gen/etcdtspb/raft.js';
import { Backoff } from './backoff.js';
import type { TransportEnv } from './env.js';
import { ClusterIdMismatchError, refusalOf, type PeerRefusedError } from './errors.js';
import { peerMessageBytesMax } from './limits.js';
import { MessageQueue } from './message-queue.js';
import { channelCredentialsFor, encodeBatch, encodedBatch, estimateMessageBytes, hostPort, paths } from './wire.js';

/**
 * idle: added before the transport started; messages queue.
 * connecting: a call is open, waiting for the peer to accept our first batch; messages queue.
 * open: accepted; queued messages are written, one batch at a time.
 * backoff: the last call failed; messages are dropped (and the peer reported
 *   unreachable) until the timer starts the next attempt.
 */
type State = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

/**
 * Our long-lived Messages stream to one peer, and the bounded queue in front
 * of it. Nothing here ever waits on the peer: send() only queues, and writes
 * happen from stream callbacks. At most one batch is being written at a
 * time; whatever is queued meanwhile goes out as the next batch, which is how
 * messages coalesce under load without any timer.
 */
export class PeerOutbound {
  private state: State = 'idle';
  private readonly queue: MessageQueue;
  private readonly backoff: Backoff;
  private readonly header: PeerHeader;
  private client: Client | undefined;
  private call: ClientWritableStream<Buffer> | undefined;
  /** Bumped whenever the current call is abandoned, so that late events of old calls are ignored. */
  private generation = 0;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private urlIndex = 0;
  /** The refusal already logged at error level, so a retry loop logs it once. */
  private refusalLogged: string | undefined;

  constructor(private readonly env: TransportEnv, readonly id: bigint, private urls: URL[]) {
    const s = env.settings;
    this.queue = new MessageQueue(s.queueMessagesMax, s.queueBytesMax);
    this.backoff = new Backoff(s.backoffInitialMs, s.backoffMaxMs, s.random);
    this.header = env.header(id);
  }

  /** The URL the next (or current) stream uses; unary calls follow it. */
  get url(): URL {
    return this.urls[this.urlIndex % this.urls.length]!;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  start(): void {
    if (this.state === 'idle') this.connect();
  }

  /** Queues `msgs` in order; returns how many were dropped instead. */
  send(msgs: Message[]): number {
    let dropped = 0;
    if (this.state === 'backoff' || this.state === 'closed') {
      dropped = msgs.length;
    } else {
      for (const m of msgs) {
        if (estimateMessageBytes(m) > peerMessageBytesMax) {
          this.env.logger.error({ 'peer-id': this.id.toString(16), type: m.type }, 'dropped message larger than the peer message limit');
          dropped++;
        } else if (!this.queue.maybePush(m)) {
          dropped++;
        }
      }
    }
    this.env.counters(this.id).messagesDropped += dropped;
    this.flush();
    return dropped;
  }

  /**
   * Takes the peer's new URLs. A stream on a URL the peer no longer has is
   * replaced at once (the address may now belong to someone else); one on a
   * URL it kept stays. A peer waiting to reconnect tries the new URLs now.
   */
  updateUrls(urls: URL[]): void {
    const current = this.url.href;
    this.urls = urls;
    const kept = urls.findIndex((u) => u.href === current);
    this.urlIndex = Math.max(0, kept);
    if (this.state === 'backoff' || ((this.state === 'connecting' || this.state === 'open') && kept < 0)) {
      if (this.state === 'open') this.env.status(this.id).outboundDown('peer URLs changed');
      this.abandon();
      this.env.reportUnreachable(this.id);
      this.connect();
    }
  }

  close(): void {
    if (this.state === 'open') this.env.status(this.id).outboundDown('peer removed or transport stopped');
    this.state = 'closed';
    this.abandon();
    this.queue.clear();
  }

  private connect(): void {
    const gen = ++this.generation;
    this.state = 'connecting';
    this.writing = false;
    const url = this.url;
    const client = new Client(hostPort(url), channelCredentialsFor(url, this.env.channelCredentials), this.env.channelOptions);
    const call = client.makeClientStreamRequest<Buffer, PeerAck>(
      paths.messages, encodedBatch.serialize, (b: Buffer) => PeerAck.decode(b), new Metadata(), {},
      (err) => this.fail(gen, err ?? new Error('stream closed by peer')),
    );
    this.client = client;
    this.call = call;
    call.on('metadata', () => this.onAccepted(gen));
    const ms = this.env.settings.connectTimeoutMs;
    this.timer = setTimeout(() => this.fail(gen, new Error(`stream not accepted within ${ms} ms`)), ms);
    // The first batch carries no messages: it introduces us, and the peer
    // answers it with response headers once it has checked who we are.
    const hello = encodeBatch(this.header, []);
    const counters = this.env.counters(this.id);
    counters.batchesSent++;
    counters.bytesSent += hello.length;
    call.write(hello);
  }

  private onAccepted(gen: number): void {
    if (gen !== this.generation) return;
    clearTimeout(this.timer);
    this.state = 'open';
    this.backoff.reset();
    this.refusalLogged = undefined;
    this.env.status(this.id).outboundUp();
    this.env.logger.debug({ 'peer-id': this.id.toString(16), url: this.url.href }, 'message stream to peer established');
    this.flush();
  }

  private flush(): void {
    if (this.state !== 'open' || this.writing || this.queue.length === 0) return;
    const gen = this.generation;
    const batch = this.queue.takeBatch(this.env.settings.batchBytesMax);
    const bytes = encodeBatch(this.header, batch);
    const counters = this.env.counters(this.id);
    counters.messagesSent += batch.length;
    counters.batchesSent++;
    counters.bytesSent += bytes.length;
    this.writing = true;
    this.call!.write(bytes, () => {
      if (gen !== this.generation) return;
      this.writing = false;
      this.flush();
    });
  }

  private fail(gen: number, err: Error): void {
    if (gen !== this.generation || this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.abandon();
    this.state = 'backoff';
    const refusal = refusalOf(err as ServiceError, this.env.clusterId);
    if (wasOpen) this.env.status(this.id).outboundDown(err.message);
    const counters = this.env.counters(this.id);
    counters.sendFailures++;
    counters.messagesDropped += this.queue.clear();
    this.logFailure(err, refusal, wasOpen);
    if (refusal?.kind === 'removed') this.env.reportRemoved();
    this.env.reportUnreachable(this.id);
    if (this.urls.length > 1) this.urlIndex++;
    const delay = refusal !== undefined ? this.backoff.longest() : this.backoff.next();
    this.timer = setTimeout(() => {
      if (this.state === 'backoff') this.connect();
    }, delay);
  }

  /** Cancels the current call and closes its channel; their late events are ignored. */
  private abandon(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.call?.cancel();
    this.client?.close();
    this.call = undefined;
    this.client = undefined;
    this.writing = false;
  }

  private logFailure(err: Error, refusal: PeerRefusedError | undefined, wasOpen: boolean): void {
    const fields = { 'peer-id': this.id.toString(16), url: this.url.href, error: err.message };
    if (refusal !== undefined) {
      const extra = refusal instanceof ClusterIdMismatchError
        ? { 'local-cluster-id': this.env.clusterId.toString(16), 'remote-cluster-id': refusal.receiverClusterId.toString(16) }
        : {};
      if (this.refusalLogged !== refusal.kind) {
        this.refusalLogged = refusal.kind;
        this.env.logger.error({ ...fields, ...extra, reason: refusal.kind }, 'peer refused our message stream');
      }
    } else if (wasOpen) {
      this.env.logger.warn(fields, 'lost message stream to peer');
    } else {
      this.env.logger.debug(fields, 'failed to open message stream to peer');
    }
  }
}
