import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON lines on stderr, like etcd's zap logger. `panic` and
 * `fatal` map to pino's fatal. Tests pass `silent` to keep output clean.
 */
export function createLogger(level: string, name?: string): Logger {
  const pinoLevel = level === 'panic' ? 'fatal' : level;
  return pino({
    level: pinoLevel,
    base: name !== undefined ? { member: name } : {},
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, pino.destination({ dest: 2, sync: false }));
}
