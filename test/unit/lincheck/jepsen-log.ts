// Reads the Jepsen etcd register logs published with Porcupine (see data/jepsen/README.md)
// into operations for the register model. Times are line numbers. A read that fails tells
// nothing and is dropped; a write or cas that times out (":info") has an unknown outcome
// and never returns; a request still open at the end of the log is unknown too.
import assert from 'node:assert';
import type { Operation } from '../../support/lincheck/checker.js';
import type { RegisterInput, RegisterOutput } from '../../support/lincheck/register-model.js';

type RegisterOperation = Operation<RegisterInput, RegisterOutput | undefined>;

const lineFormat = /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*)$/;

export function parseJepsenLog(text: string): RegisterOperation[] {
  const ops: RegisterOperation[] = [];
  const open = new Map<number, number>();
  const dropped = new Set<number>();
  text.split('\n').filter((l) => l.trim() !== '').forEach((line, time) => {
    const m = lineFormat.exec(line);
    assert(m, `unrecognised log line ${time + 1}: ${line}`);
    const [, proc, kind, f, arg] = m;
    const process = Number(proc);
    if (kind === 'invoke') {
      assert(!open.has(process), `process ${process} invoked twice`);
      open.set(process, ops.length);
      ops.push({ clientId: process, input: parseInput(f, arg), output: undefined, call: time, return: Infinity });
      return;
    }
    const index = open.get(process);
    assert(index !== undefined, `process ${process} completed without an invoke`);
    open.delete(process);
    if (kind === 'info') return;
    if (f === 'read' && kind === 'fail') {
      dropped.add(index);
      return;
    }
    ops[index].return = time;
    ops[index].output = f === 'read' ? { value: arg === 'nil' ? null : Number(arg) } : f === 'cas' ? { ok: kind === 'ok' } : {};
  });
  return ops.filter((_, i) => !dropped.has(i));
}

function parseInput(f: string, arg: string): RegisterInput {
  if (f === 'read') return { type: 'read' };
  if (f === 'write') return { type: 'write', value: Number(arg) };
  const m = /^\[(\d+) (\d+)\]$/.exec(arg);
  assert(m, `bad cas argument ${arg}`);
  return { type: 'cas', from: Number(m[1]), to: Number(m[2]) };
}
