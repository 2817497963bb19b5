import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { adminClientOptions, exitQuietly } from '../../cli/admin/endpoint-clients.js';
import { cleanUpAfterCheck, datascaleLoads, loadModel, openClients, randomKey, requireEmptyPrefix, residentMemoryBytes, runLoad } from '../../cli/admin/perf.js';
import { ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const datascaleFlagSpecs: readonly FlagSpec[] = [
  { name: 'load', kind: 'string', defaultText: 's', description: "The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)" },
  { name: 'prefix', kind: 'string', defaultText: '/etcdctl-check-datascale/', description: "The prefix for writing the datascale check's keys." },
  { name: 'auto-compact', kind: 'bool', defaultText: 'false', description: 'Compact storage with last revision after test is finished.' },
  { name: 'auto-defrag', kind: 'bool', defaultText: 'false', description: 'Defragment storage after test is finished.' },
];

export default class CheckDatascale extends EtcdCommand {
  static override summary = 'Check the memory usage of holding data for different workloads on a given server endpoint.';
  static override description = `If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint will be used.

Writes the load level's number of keys (512-byte keys, 512-byte values) and reports
how much the member's resident memory (process_resident_memory_bytes of /metrics)
grew. Loads: s = 10,000 keys by 50 clients, m = 100,000 by 200, l = 1,000,000 by 500,
xl = 3,000,000 by 1000. The keys are deleted afterwards.`;
  static override usage = 'check datascale [options]';
  static override examples = ['<%= config.bin %> check datascale --load=s --auto-compact --auto-defrag'];
  static override commandFlags = datascaleFlagSpecs;
  static override flags = oclifFlags(datascaleFlagSpecs);

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    const load = datascaleLoads[loadModel(flags.string('load'))]!;
    const prefix = flags.string('prefix');
    await this.printer(flags);
    const options = await adminClientOptions(flags);
    const clients = await openClients(options, load.clients);
    const out = (line: string): void => {
      this.stdout.write(`${line}\n`);
      this.stdout.flush();
    };
    try {
      await requireEmptyPrefix(clients[0]!, prefix, 60_000);
      const endpoint = options.endpoints[0]!;
      const before = await residentMemoryBytes(endpoint, out);
      if (before === 0) return fail(out, 'FAIL: Could not read process_resident_memory_bytes before the put operations.');
      out(`Start data scale check for work load [${load.limit} key-value pairs, ${load.kvSize} bytes per key-value, ${load.clients} concurrent clients].`);
      const value = Buffer.alloc(512);
      const stats = await runLoad(clients, { workers: load.clients, count: load.limit, send: (client) => client.kv.put(randomKey(prefix, 512), value) });
      const after = await residentMemoryBytes(endpoint, out);
      if (after === 0) return fail(out, 'FAIL: Could not read process_resident_memory_bytes after the put operations.');
      await cleanUpAfterCheck(clients[0]!, { prefix, autoCompact: flags.bool('auto-compact'), autoDefrag: flags.bool('auto-defrag'), endpoints: clients[0]!.endpoints(), out });
      if (stats.errors.size !== 0) {
        out('FAIL: too many errors');
        for (const [message, count] of stats.errors) out(`FAIL: ERROR(${message}) -> ${count}`);
        return exitQuietly(ExitCode.error);
      }
      out(`PASS: Approximate system memory used : ${((after - before) / (1024 * 1024)).toFixed(2)} MB.`);
    } finally {
      for (const c of clients) c.close();
    }
  }
}

function fail(out: (line: string) => void, line: string): void {
  out(line);
  exitQuietly(ExitCode.error);
}
