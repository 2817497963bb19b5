import { globalFlagSpecs } from './global-flags.js';

/**
 * etcdctl accepts global flags before the command (`etcdctl --endpoints=$EP
 * get foo`, a very common form in scripts); oclif finds the command from the
 * first words and would take `--endpoints` for a command name. This moves
 * leading global flags (with their values) to just after the command words,
 * where our parser reads them (pflag allows flags anywhere):
 *
 *   --endpoints x -w json get foo   →   get foo --endpoints x -w json
 *   --hex put -- k -v                →   put --hex -- k -v
 *
 * Anything else (no leading flag, an unknown flag whose arity we cannot
 * know, --help, --version) is left as it is. bin/run.js calls this before
 * handing argv to oclif.
 */
export function reorderGlobalFlags(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--' && argv[i] !== '-') {
    const taken = globalFlagWidth(argv, i);
    if (taken === 0) return [...argv];
    leading.push(...argv.slice(i, i + taken));
    i += taken;
  }
  if (leading.length === 0 || i >= argv.length) return [...argv];
  let end = i;
  while (end < argv.length && !argv[end]!.startsWith('-')) end++;
  return [...argv.slice(i, end), ...leading, ...argv.slice(end)];
}

/** How many words the global flag at argv[i] uses (1 or 2), or 0 when it is not a global flag. */
function globalFlagWidth(argv: readonly string[], i: number): number {
  const word = argv[i]!;
  if (word.startsWith('--')) {
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const spec = globalFlagSpecs.find((s) => s.name === name);
    if (spec === undefined) return 0;
    return eq >= 0 || spec.kind === 'bool' ? 1 : 2;
  }
  const spec = globalFlagSpecs.find((s) => s.short === word[1]);
  if (spec === undefined) return 0;
  return word.length > 2 || spec.kind === 'bool' ? 1 : 2;
}

/**
 * The command an argv runs, as oclif finds it: the longest run of leading
 * words that names a command (`member list -w json` → `member:list`), or ''
 * when none does (`--version`, a typo). Takes argv already reordered.
 */
export function commandIdOf(argv: readonly string[], commandIds: ReadonlySet<string>): string {
  let id = '';
  let words = '';
  for (const word of argv) {
    if (word.startsWith('-')) break;
    words = words === '' ? word : `${words}:${word}`;
    if (commandIds.has(words)) id = words;
  }
  return id;
}

/**
 * What a run is, for the CLI's code cache (bin/run.js), which learns each
 * kind of run once: the command, and whether it only shows help, which runs
 * other code than the command does.
 */
export function runKindOf(argv: readonly string[], commandIds: ReadonlySet<string>): string {
  const words = reorderGlobalFlags(argv);
  const end = words.indexOf('--');
  const help = words.slice(0, end < 0 ? undefined : end).some((w) => w === '--help' || w === '-h');
  const id = commandIdOf(words, commandIds);
  return help ? `${id} --help` : id;
}
