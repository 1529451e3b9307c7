/** The server's default logger: pino JSON lines on stdout, written asynchronously so logging stays off the hot path. */
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { service: 'isola' } }, pino.destination({ fd: 1, sync: false }));
}
