import { pino } from 'pino';
import { formatConsoleLine, formatJsonLine, shortCaller, type LogFields, type LogLevel } from './log-format.js';

export type { LogFields, LogLevel };

/**
 * The member's logger: etcd's zap lines (log-format.ts) written to etcd's
 * --log-outputs. pino's asynchronous destination (sonic-boom) does the
 * writing, so a slow reader of stderr never stalls Raft; pino's own line
 * layout cannot be used, because it puts `msg` last and has no caller.
 *
 * Call sites pass fields then the message, `log.info({ 'local-member-id': id }, 'msg')`,
 * with etcd's field names.
 */
export interface Logger {
  debug(fields: LogFields | string, msg?: string): void;
  info(fields: LogFields | string, msg?: string): void;
  warn(fields: LogFields | string, msg?: string): void;
  error(fields: LogFields | string, msg?: string): void;
  fatal(fields: LogFields | string, msg?: string): void;
  isLevelEnabled(level: LogLevel): boolean;
  /** The same logger, naming as caller the frame `frames` further up (for adapters such as the Raft logger). */
  skipping(frames: number): Logger;
  /** Calls back once every line written so far has reached its outputs. */
  flush(done?: () => void): void;
  /** Writes out what is buffered before the process exits. */
  flushSync(): void;
}

export interface LoggerOptions {
  level: string;
  /** etcd's --log-outputs: default or stderr, stdout, /dev/null (discards everything), or file paths (appended to). */
  outputs?: string[];
  format?: 'json' | 'console';
}

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, panic: 50, fatal: 60 };

interface Sink {
  write(line: string): void;
  flush(done: (err?: Error) => void): void;
  flushSync(): void;
}

function openSinks(outputs: string[]): Sink[] {
  if (outputs.includes('/dev/null')) return [];
  const sinks: Sink[] = [];
  const seen = new Set<string>();
  for (const output of outputs) {
    const dest = output === 'default' || output === 'stderr' ? 2 : output === 'stdout' ? 1 : output;
    if (seen.has(String(dest))) continue;
    seen.add(String(dest));
    const boom = pino.destination({ dest, sync: false, append: true, mkdir: true });
    sinks.push({
      write: (line) => void boom.write(line),
      flush: (done) => boom.flush(done),
      flushSync: () => {
        try {
          boom.flushSync();
        } catch {
          // Not ready yet (still opening) or the reader is gone: nothing more can be done at exit.
        }
      },
    });
  }
  return sinks;
}

export function createLogger(options: LoggerOptions | string): Logger {
  const opts = typeof options === 'string' ? { level: options } : options;
  const sinks = openSinks(opts.outputs ?? ['default']);
  const format = opts.format === 'console' ? formatConsoleLine : formatJsonLine;
  const threshold = severity[(opts.level === 'dpanic' ? 'panic' : opts.level) as LogLevel] ?? severity.info;
  const make = (skip: number): Logger => {
    const emit = (level: LogLevel, fields: LogFields | string, msg: string | undefined, method: Function): void => {
      if (severity[level] < threshold || sinks.length === 0) return;
      const record = typeof fields === 'string'
        ? { level, time: new Date(), caller: callerOf(method, skip), msg: fields, fields: {} }
        : { level, time: new Date(), caller: callerOf(method, skip), msg: msg ?? '', fields };
      const line = format(record);
      for (const sink of sinks) sink.write(line);
    };
    const logger: Logger = {
      debug: (f, m) => emit('debug', f, m, logger.debug),
      info: (f, m) => emit('info', f, m, logger.info),
      warn: (f, m) => emit('warn', f, m, logger.warn),
      error: (f, m) => emit('error', f, m, logger.error),
      fatal: (f, m) => emit('fatal', f, m, logger.fatal),
      isLevelEnabled: (level) => severity[level] >= threshold && sinks.length > 0,
      skipping: (frames) => make(skip + frames),
      flush: (done) => {
        let pending = sinks.length;
        if (pending === 0) done?.();
        for (const sink of sinks) sink.flush(() => --pending === 0 && done?.());
      },
      flushSync: () => {
        for (const sink of sinks) sink.flushSync();
      },
    };
    return logger;
  };
  return make(0);
}

/** The call site of a log method (`skip` frames further up), as zap's caller. */
function callerOf(method: Function, skip: number): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = skip + 1;
  Error.captureStackTrace(holder, method);
  Error.stackTraceLimit = limit;
  const frame = holder.stack?.split('\n')[skip + 1];
  return frame === undefined ? 'unknown' : shortCaller(frame);
}
