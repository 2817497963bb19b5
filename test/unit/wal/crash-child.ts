import { pathToFileURL } from 'node:url';
import { Wal } from '../../../src/server/wal/wal.js';
import { crashEntryData, entry, hardState } from './helpers.js';

/**
 * A WAL writer for the crash tests, run as its own process so that it can
 * be SIGKILLed (or kill itself at a failpoint) mid-write. Usage:
 *   node crash-child.js <dir> <segmentBytes> <saves>
 * It opens (or creates) the WAL, appends after its last entry, and prints
 * `acked <index>` only once the save() holding that entry has resolved, so
 * every printed index is one the WAL promised to keep.
 */

const [dir, segmentBytesArg, savesArg] = process.argv.slice(2) as [string, string, string];
const options = { segmentBytes: Number(segmentBytesArg) };
const window = 8;

async function main(): Promise<void> {
  if (!(await Wal.exists(dir))) await (await Wal.create(dir, Buffer.from('crash-test'), options)).close();
  const { wal, entries } = await Wal.open(dir, { index: 0n, term: 0n }, options);
  let next = (entries.at(-1)?.index ?? 0n) + 1n;
  for (let round = 0; round < Number(savesArg) / window; round++) {
    const calls: Promise<void>[] = [];
    for (let k = 0; k < window; k++, next++) {
      const index = next;
      const batch = [entry(index, 1n, crashEntryData(index))];
      calls.push(wal.save(hardState(1n, 1n, index), batch).then(() => void process.stdout.write(`acked ${index}\n`)));
    }
    await Promise.all(calls);
  }
  await wal.close();
  process.stdout.write('done\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`crash-child: ${String(err)}\n`);
    process.exit(2);
  });
}
