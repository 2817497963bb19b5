import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { adminClientOptions } from '../../cli/admin/endpoint-clients.js';
import { cleanUpAfterCheck, loadModel, openClients, percentileLine, perfLoads, perfVerdict, randomKey, requireEmptyPrefix, runLoad } from '../../cli/admin/perf.js';
import { exitQuietly } from '../../cli/admin/endpoint-clients.js';
import { ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { nanosToMs } from '../../cli/global-flags.js';

const perfFlagSpecs: readonly FlagSpec[] = [
  { name: 'load', kind: 'string', defaultText: 's', description: "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)" },
  { name: 'prefix', kind: 'string', defaultText: '/etcdctl-check-perf/', description: "The prefix for writing the performance check's keys." },
  { name: 'auto-compact', kind: 'bool', defaultText: 'false', description: 'Compact storage with last revision after test is finished.' },
  { name: 'auto-defrag', kind: 'bool', defaultText: 'false', description: 'Defragment storage after test is finished.' },
  { name: 'duration', kind: 'duration', defaultText: '0s', description: 'run for this long instead of the load level\'s 60s (for trying it out; the verdict assumes 60s)', hidden: true },
];

export default class CheckPerf extends EtcdCommand {
  static override summary = 'Check the performance of the etcd cluster';
  static override description = `Writes 1 KiB values under --prefix at the load level's rate for 60 seconds with its
number of concurrent clients, then judges throughput, slowest request and standard
deviation, and prints etcdctl's PASS/FAIL lines (exit 1 on FAIL). The keys are deleted
afterwards; add --auto-compact --auto-defrag so the check leaves no garbage behind.
Loads: s = 150 writes/s by 50 clients, m = 1000 by 200, l = 8000 by 500, xl = 15000 by 1000.
Latency percentiles go to stderr; a progress spinner shows on a terminal.`;
  static override usage = 'check perf [options]';
  static override examples = ['<%= config.bin %> check perf', '<%= config.bin %> check perf --load=m --auto-compact --auto-defrag'];
  static override commandFlags = perfFlagSpecs;
  static override flags = oclifFlags(perfFlagSpecs);

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    const load = perfLoads[loadModel(flags.string('load'))]!;
    const prefix = flags.string('prefix');
    await this.printer(flags);
    const options = await adminClientOptions(flags);
    const clients = await openClients(options, load.clients);
    try {
      const durationMs = nanosToMs(flags.bigint('duration')) ?? load.durationSec * 1000;
      await requireEmptyPrefix(clients[0]!, prefix, load.durationSec * 1000);
      const value = Buffer.alloc(1024);
      const progress = await startProgress(durationMs);
      const stats = await runLoad(clients, {
        workers: load.clients,
        until: Date.now() + durationMs,
        ratePerSec: load.limit,
        send: (client) => client.kv.put(randomKey(prefix, 256), value),
      }).finally(() => progress?.stop());
      const out = (line: string): void => this.stdout.write(`${line}\n`);
      await cleanUpAfterCheck(clients[0]!, { prefix, autoCompact: flags.bool('auto-compact'), autoDefrag: flags.bool('auto-defrag'), endpoints: clients[0]!.endpoints(), out });
      const verdict = perfVerdict(stats, load);
      for (const line of verdict.lines) out(line);
      this.stderr.write(`${percentileLine(stats.latencies)}\n`);
      if (!verdict.ok) exitQuietly(ExitCode.error);
    } finally {
      for (const c of clients) c.close();
    }
  }
}

/** A spinner on stderr counting the seconds (terminals only). */
async function startProgress(durationMs: number): Promise<{ stop: () => void } | undefined> {
  // ora redraws by terminal width; a pseudo-terminal that reports 0 columns would make it spin forever.
  if (process.stderr.isTTY !== true || (process.stderr.columns ?? 0) <= 0) return undefined;
  const { default: ora } = await import('ora');
  const spinner = ora({ text: 'Checking performance', stream: process.stderr, discardStdin: false }).start();
  const started = Date.now();
  const timer = setInterval(() => {
    spinner.text = `Checking performance: ${Math.min(durationMs, Date.now() - started) / 1000 | 0}s of ${durationMs / 1000 | 0}s`;
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      spinner.stop();
    },
  };
}
