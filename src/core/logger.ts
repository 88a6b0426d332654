import { toJson } from './toJson.ts';

export type Logger = {
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
};

/** Writes warnings and errors to stderr; info is dropped unless `verbose`. */
export const stderrLogger = (verbose = false): Logger => {
  const write = (level: string, message: string, details?: Record<string, unknown>): void => {
    const suffix = details === undefined ? '' : ` ${toJson(details)}`;
    process.stderr.write(`[distributary] ${level} ${message}${suffix}\n`);
  };
  return {
    info: (message, details) => (verbose ? write('info', message, details) : undefined),
    warn: (message, details) => write('warn', message, details),
    error: (message, details) => write('error', message, details),
  };
};

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
