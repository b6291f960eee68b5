import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

/** pino JSON to stdout; the level comes from config (`logLevel`). */
export function createLogger(level: LevelWithSilent, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'wardwatch' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}
