import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { HeldCommand } from '../cli/coordination/held-command.js';
import { onStopSignal } from '../cli/coordination/signals.js';
import {
  parseInteractiveWatchArgs,
  parseWatchArgs,
  watchEnv,
  watchFlagSpecs,
  watchTarget,
  type WatchEnv,
} from '../cli/coordination/watch-args.js';
import { badArgs, CliError, ExitCode } from '../cli/errors.js';
import { FlagParseError, parseCommandLine, type ParsedFlags } from '../cli/flags/parser.js';
import { goQuote } from '../cli/go/quote.js';
import type { Printer } from '../cli/printers/index.js';
import { eventTypeName } from '../cli/printers/simple.js';
import { EndOfInputError, StreamLineSource } from '../cli/stdin.js';
import { argify } from '../cli/txn-parser.js';
import type { Client } from '../client/client.js';
import { WatchCanceledByServerError, WatchCompactedError, type Watcher } from '../client/watch.js';
import type { WatchResponse } from '../proto/gen/etcdserverpb/rpc.js';

/** How a watch loop ended: the server canceled it, the user stopped it, or a per-event command failed (exit 1). */
type LoopEnd = 'canceled' | 'stopped' | 'commandFailed';

export default class Watch extends EtcdCommand {
  static override summary = 'Watches events stream on keys or prefixes';
  static override description = `Prints every change of a key, a range [key, range_end) or a prefix, from now or from
--rev on, as etcdctl does: the event type, then (with --prev-kv) the previous key and value, then
the key and value. Runs until interrupted (SIGINT/SIGTERM: exit 0); exits 5 when the server cancels
the watch (for example because --rev has been compacted).

With "-- command args", runs the command once per event (no shell), with ETCD_WATCH_REVISION,
ETCD_WATCH_EVENT_TYPE, ETCD_WATCH_KEY and ETCD_WATCH_VALUE in its environment (the last three
Go-quoted, as etcdctl sets them); a failing command ends the watch with exit code 1.

With -i, reads commands from stdin, one per line: "watch [options] <key> [range_end] [-- command]"
starts another watch, "progress" asks for a progress notification. ETCDCTL_WATCH_KEY and
ETCDCTL_WATCH_RANGE_END can stand for the key and range end.

A broken connection is resumed on another endpoint from the revision after the last event printed:
no event is lost or printed twice.`;
  static override usage = 'watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]';
  static override examples = [
    '<%= config.bin %> watch foo',
    '<%= config.bin %> watch --prefix /app/ --prev-kv -w json',
    '<%= config.bin %> watch --rev 42 foo',
    '<%= config.bin %> watch config/app -- sh -c \'echo "$ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY" >> changes.log\'',
    'printf "watch foo\\nwatch --prefix bar\\n" | cat - /dev/tty | <%= config.bin %> watch -i',
  ];
  static override commandFlags = watchFlagSpecs;
  static override flags = oclifFlags(watchFlagSpecs);
  static override extraEnv = ['ETCDCTL_WATCH_KEY', 'ETCDCTL_WATCH_RANGE_END'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    const env = watchEnv(process.env);
    if (flags.bool('interactive')) {
      await this.interactive(flags, env);
      return;
    }
    const { watchArgs, execArgs } = parseWatchArgs(this.argv, args, env);
    const { key, options } = watchTarget(watchArgs, flags);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const watcher = client.watch(key, options);
    const dispose = onStopSignal(() => watcher.cancel());
    let end: LoopEnd;
    try {
      end = await this.printResponses(watcher, printer, execArgs);
    } finally {
      dispose();
    }
    if (end === 'stopped') return;
    if (end === 'commandFailed') {
      process.exitCode = ExitCode.error;
      return;
    }
    throw new CliError('watch is canceled by the server', ExitCode.interrupted);
  }

  /**
   * Prints each response of one watcher (and runs the per-event command)
   * until it ends; a server cancel is reported as etcdctl reports it.
   */
  private async printResponses(watcher: Watcher, printer: Printer, execArgs: readonly string[]): Promise<LoopEnd> {
    for (;;) {
      let response: WatchResponse | undefined;
      try {
        response = await watcher.next();
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.stderr.write(`watch was canceled (${reason})\n`);
        this.stderr.flush();
        if (err instanceof WatchCompactedError || err instanceof WatchCanceledByServerError) printer.watch(err.response);
        this.stdout.flush();
        return 'canceled';
      }
      if (response === undefined) return 'stopped';
      if (isProgressNotify(response)) this.stdout.write(`progress notify: ${response.header!.revision}\n`);
      printer.watch(response);
      this.stdout.flush();
      for (const event of execArgs.length === 0 ? [] : response.events) {
        const env = {
          ETCD_WATCH_REVISION: (response.header?.revision ?? 0n).toString(),
          ETCD_WATCH_EVENT_TYPE: goQuote(eventTypeName(event.type)),
          ETCD_WATCH_KEY: goQuote(event.kv!.key),
          ETCD_WATCH_VALUE: goQuote(event.kv!.value),
        };
        const end = await new HeldCommand(execArgs, env).ended;
        if (end.exitCode !== 0) {
          this.stderr.write(`command [${execArgs.map((a) => goQuote(a)).join(' ')}] error (${end.description})\n`);
          this.stderr.flush();
          watcher.cancel();
          return 'commandFailed';
        }
      }
    }
  }

  /**
   * `watch -i`: each stdin line starts a watch ("watch ...") or asks for
   * progress ("progress"); bad lines are reported and skipped. As etcdctl,
   * the end of stdin ends the command (exit 3), and so does a flag error in
   * a line (exit 128) or a failing per-event command (exit 1).
   */
  private async interactive(flags: ParsedFlags, env: WatchEnv): Promise<void> {
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const lines = new StreamLineSource();
    const watchers = new Set<Watcher>();
    let stop!: (outcome: 'stopped' | 'commandFailed') => void;
    const stopped = new Promise<'stopped' | 'commandFailed'>((resolve) => (stop = resolve));
    const dispose = onStopSignal(() => stop('stopped'));
    try {
      for (;;) {
        const next = await Promise.race([lines.next().then((line) => ({ line })), stopped.then((outcome) => ({ outcome }))]);
        if ('outcome' in next) {
          if (next.outcome === 'commandFailed') process.exitCode = ExitCode.error;
          return;
        }
        const started = this.interactiveLine(client, Buffer.from(next.line, 'latin1').toString('utf8'), env);
        if (started === undefined) continue;
        const { watcher, execArgs } = started;
        watchers.add(watcher);
        void this.printResponses(watcher, printer, execArgs).then((end) => {
          watchers.delete(watcher);
          if (end === 'commandFailed') stop('commandFailed');
        });
      }
    } catch (err) {
      if (err instanceof EndOfInputError) throw new CliError('Error reading watch request line: EOF', ExitCode.invalidInput);
      throw err;
    } finally {
      dispose();
      for (const w of watchers) w.cancel();
      // The pending read of stdin would keep the process alive.
      process.stdin.destroy();
    }
  }

  /** Acts on one line of `watch -i`; returns the watcher it started, if any. */
  private interactiveLine(client: Client, line: string, env: WatchEnv): { watcher: Watcher; execArgs: string[] } | undefined {
    const args = argify(line);
    const complain = (text: string): undefined => {
      this.stderr.write(`${text}\n`);
      this.stderr.flush();
      return undefined;
    };
    if (args.length < 1) return complain(`Invalid command: ${line} (watch and progress supported)`);
    if (args[0] === 'progress') {
      client.requestProgress();
      return undefined;
    }
    if (args[0] !== 'watch') return complain(`Invalid command ${line} (only support watch)`);
    if (args.length < 2 && env.key === '') return complain(`Invalid command ${line} (command type or key is not provided)`);
    const lineArgs = args.slice(1);
    let parsed;
    try {
      parsed = parseCommandLine(lineArgs, watchFlagSpecs);
    } catch (err) {
      if (err instanceof FlagParseError) throw badArgs(err.message);
      throw err;
    }
    const { watchArgs, execArgs } = parseInteractiveWatchArgs(lineArgs, parsed.args, env);
    let target;
    try {
      target = watchTarget(watchArgs, parsed.flags);
    } catch (err) {
      return complain(`Invalid command ${line} (${(err as Error).message})`);
    }
    return { watcher: client.watch(target.key, target.options), execArgs };
  }
}

/** clientv3's IsProgressNotify: no events, not a create or cancel, a real revision. */
function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compactRevision === 0n && (r.header?.revision ?? 0n) !== 0n;
}
