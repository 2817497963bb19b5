import { EventEmitter } from 'node:events';
import type { ServerCall } from '../../../src/server/api/grpc-server/call.js';
import type { ServiceDefinition, ServiceImplementation } from '../../../src/server/api/grpc-server/server.js';
import { bytesMethod } from './raw-h2.js';

/**
 * A service of raw-bytes methods covering the four call kinds and the
 * handler behaviours the transport must cope with. `events` records what
 * handlers saw (cancellations, back-pressure), for assertions.
 */
export const testService: ServiceDefinition = {
  echo: bytesMethod('/t.Test/Echo', false, false),
  hang: bytesMethod('/t.Test/Hang', false, false),
  big: bytesMethod('/t.Test/Big', false, false),
  fail: bytesMethod('/t.Test/Fail', false, false),
  throws: bytesMethod('/t.Test/Throws', false, false),
  meta: bytesMethod('/t.Test/Meta', false, false),
  count: bytesMethod('/t.Test/Count', false, true),
  flood: bytesMethod('/t.Test/Flood', false, true),
  sum: bytesMethod('/t.Test/Sum', true, false),
  chat: bytesMethod('/t.Test/Chat', true, true),
  slowChat: bytesMethod('/t.Test/SlowChat', true, true),
  missing: bytesMethod('/t.Test/Missing', false, false),
  destroyed: bytesMethod('/t.Test/Destroyed', false, true),
  emitsError: bytesMethod('/t.Test/EmitsError', true, true),
};

export interface TestServiceState {
  events: EventEmitter;
  /** Calls of Hang and SlowChat, kept so tests can finish or inspect them. */
  held: ServerCall[];
  /** The callbacks of Hang calls, by request text. */
  answer: Map<string, (err: unknown, value?: Buffer) => void>;
  /** write() results of the last Count call, in order. */
  writes: boolean[];
  drains: number;
}

type Call = ServerCall & { request: Buffer };
type Callback = (err: unknown, value?: Buffer) => void;

export function testImplementation(): { implementation: ServiceImplementation; state: TestServiceState } {
  const state: TestServiceState = { events: new EventEmitter(), held: [], answer: new Map(), writes: [], drains: 0 };
  const implementation: ServiceImplementation = {
    echo: (call: Call, cb: Callback) => cb(null, call.request),
    hang: (call: Call, cb: Callback) => {
      state.held.push(call);
      state.answer.set(call.request.toString(), cb);
      call.on('cancelled', () => state.events.emit('cancelled', call.request.toString()));
    },
    big: (call: Call, cb: Callback) => cb(null, Buffer.alloc(Number(call.request.toString()), 0x61)),
    fail: (call: Call, cb: Callback) => cb({ code: 9, details: call.request.toString('utf8') }),
    throws: () => {
      throw Object.assign(new Error('handler threw'), { code: 10 });
    },
    meta: (call: Call, cb: Callback) => {
      const token = call.metadata.get('token');
      const bin = call.metadata.get('blob-bin');
      cb(null, Buffer.from(JSON.stringify({
        token, bin: bin.map((b) => (b as Buffer).toString('hex')), peer: call.getPeer(), host: call.getHost(),
        deadline: call.getDeadline(), path: call.getPath(),
      })));
    },
    count: (call: Call) => void countStream(call, state),
    destroyed: (call: Call) => {
      call.write(Buffer.from('partial'));
      setImmediate(() => {
        call.destroy(Object.assign(new Error('ignored message'), { code: 5, details: 'gone' }));
        // Writing after the end is harmless: dropped, and never a reason to wait for 'drain'.
        state.writes = [call.write(Buffer.from('after'))];
      });
    },
    emitsError: (call: Call) => {
      call.on('data', () => call.emit('error', { code: 7, details: 'denied' }));
    },
    flood: (call: Call) => {
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        state.events.emit('flood-cancelled');
      });
      const chunk = Buffer.alloc(64 * 1024);
      const push = (): void => {
        // Ignores write()'s answer on purpose.
        for (let i = 0; i < 64 && !cancelled; i++) call.write(chunk);
        if (!cancelled) setImmediate(push);
      };
      push();
    },
    sum: (call: Call, cb: Callback) => {
      let total = 0;
      call.on('data', (m: Buffer) => {
        total += m.length;
      });
      call.on('end', () => cb(null, Buffer.from(String(total))));
    },
    chat: (call: Call) => {
      call.on('data', (m: Buffer) => call.write(m));
      call.on('end', () => {
        state.events.emit('chat-end');
        call.end();
      });
    },
    slowChat: (call: Call) => {
      // Reads nothing until told to: the client's requests must wait in the window.
      state.held.push(call);
      call.pause();
      call.on('data', (m: Buffer) => {
        state.events.emit('slow-data', m.length);
        call.write(Buffer.from(String(m.length)));
      });
      call.on('end', () => call.end());
      call.on('cancelled', () => state.events.emit('cancelled', 'slowChat'));
    },
  };
  return { implementation, state };
}

/** Count: request "n,size" streams n messages of `size` bytes, honouring back-pressure. */
async function countStream(call: Call, state: TestServiceState): Promise<void> {
  const [n, size] = call.request.toString().split(',').map(Number);
  state.writes = [];
  state.drains = 0;
  let cancelled = false;
  call.on('cancelled', () => {
    cancelled = true;
  });
  for (let i = 0; i < n && !cancelled; i++) {
    const body = Buffer.alloc(size, i % 256);
    const ok = call.write(body);
    state.writes.push(ok);
    if (!ok) {
      await new Promise((resolve) => call.once('drain', resolve));
      state.drains++;
    }
  }
  call.end();
}
