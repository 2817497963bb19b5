import type { WatchOptions } from '../../client/watch.js';
import { badArgs } from '../errors.js';
import type { FlagSpec } from '../flags/flag-spec.js';
import type { ParsedFlags } from '../flags/parser.js';
import { goQuote } from '../go/quote.js';

/** watch's own flags (etcdctl 3.4's, plus --progress-notify from 3.5). */
export const watchFlagSpecs: readonly FlagSpec[] = [
  { name: 'interactive', short: 'i', kind: 'bool', defaultText: 'false', description: 'Interactive mode' },
  { name: 'prefix', kind: 'bool', defaultText: 'false', description: 'Watch on a prefix if prefix is set' },
  { name: 'rev', kind: 'int64', defaultText: '0', description: 'Revision to start watching' },
  { name: 'prev-kv', kind: 'bool', defaultText: 'false', description: 'get the previous key-value pair before the event happens' },
  { name: 'progress-notify', kind: 'bool', defaultText: 'false', description: 'get periodic watch progress notification from server' },
];

/** The key (or range) of a watch, and the command to run per event. */
export interface WatchArgs {
  watchArgs: string[];
  execArgs: string[];
}

/** The environment variables that can give watch its key and range end. */
export interface WatchEnv {
  key: string;
  rangeEnd: string;
}

export function watchEnv(env: NodeJS.ProcessEnv): WatchEnv {
  const key = env.ETCDCTL_WATCH_KEY ?? '';
  const rangeEnd = env.ETCDCTL_WATCH_RANGE_END ?? '';
  if (key === '' && rangeEnd !== '') throw badArgs(`ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${goQuote(rangeEnd)}`);
  return { key, rangeEnd };
}

/**
 * etcdctl's parseWatchArgs: `watch [key [range_end]] [-- command args]`.
 * `raw` is the command line (with flags), where `--` is found; `args` the
 * positional arguments the flag parser left, which end with the command.
 * ETCDCTL_WATCH_KEY / _RANGE_END stand for the key and range end and then
 * must not be given as arguments too.
 */
export function parseWatchArgs(raw: readonly string[], args: readonly string[], env: WatchEnv): WatchArgs {
  const separator = raw.indexOf('--');
  if (separator >= 0 && separator === raw.length - 1) throw badArgs('bad number of arguments (found separator --, but no commands)');
  if (separator < 0 && raw.length < 1 && env.key === '') throw badArgs('bad number of arguments');
  const execArgs = separator < 0 ? [] : raw.slice(separator + 1);
  let watchArgs = args.slice(0, args.length - execArgs.length);
  if (env.key !== '') {
    if (watchArgs.length > 0) throw badArgs('bad number of arguments (found conflicting environment key)');
    watchArgs = env.rangeEnd === '' ? [env.key] : [env.key, env.rangeEnd];
  }
  return { watchArgs, execArgs };
}

/** One line of `watch -i` after its leading "watch": flags, key, range end, `-- command`. */
export function parseInteractiveWatchArgs(lineArgs: readonly string[], positional: readonly string[], env: WatchEnv): WatchArgs {
  const separator = lineArgs.indexOf('--');
  if (separator >= 0 && separator === lineArgs.length - 1) throw badArgs('bad number of arguments (found separator --, but no commands)');
  const execArgs = separator < 0 ? [] : lineArgs.slice(separator + 1);
  let watchArgs = positional.slice(0, positional.length - execArgs.length);
  if (env.key !== '') watchArgs = [...(env.rangeEnd === '' ? [env.key] : [env.key, env.rangeEnd]), ...watchArgs];
  return { watchArgs, execArgs };
}

/**
 * getWatchChan's checks and the watch itself: the key, and a range end when
 * there are exactly two arguments (etcdctl ignores a third and the range).
 */
export function watchTarget(watchArgs: readonly string[], flags: ParsedFlags): { key: Buffer; options: WatchOptions } {
  if (watchArgs.length < 1) throw badArgs('bad number of arguments');
  const prefix = flags.bool('prefix');
  if (watchArgs.length === 2 && prefix) throw badArgs('`range_end` and `--prefix` are mutually exclusive');
  const options: WatchOptions = {
    prefix,
    startRevision: flags.bigint('rev'),
    prevKv: flags.bool('prev-kv'),
    progressNotify: flags.bool('progress-notify'),
  };
  if (watchArgs.length === 2) options.rangeEnd = Buffer.from(watchArgs[1]!, 'utf8');
  return { key: Buffer.from(watchArgs[0]!, 'utf8'), options };
}
