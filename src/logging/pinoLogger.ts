import { pino, type Logger as Pino } from 'pino';
import type { Logger } from '../core/logger.ts';

/** A pino logger (or one with pino's call shape: details first, then the message). */
type PinoLike = Pick<Pino, 'info' | 'warn' | 'error' | 'child' | 'levels'>;

/** What the `logger` options take: a pino logger, or any object with info/warn/error(message, details). */
export type AnyLogger = Logger | PinoLike;

const isPinoLike = (logger: unknown): logger is PinoLike =>
  typeof logger === 'object' && logger !== null && typeof (logger as PinoLike).child === 'function' && typeof (logger as PinoLike).levels === 'object';

/** distributary's logging calls (message, then details) on a pino logger (details, then message). */
export const fromPino = (logger: PinoLike): Logger => ({
  info: (message, details) => logger.info(details ?? {}, message),
  warn: (message, details) => logger.warn(details ?? {}, message),
  error: (message, details) => logger.error(details ?? {}, message),
});

/** Takes the application's logger as given: a pino logger (adapted), or any object with info/warn/error(message, details). */
export const asLogger = (logger: AnyLogger): Logger => (isPinoLike(logger) ? fromPino(logger.child({ name: 'distributary' })) : logger);

/**
 * Structured JSON lines to stderr with pino: warnings and errors only unless `verbose` (then info too:
 * sessions starting, partitions handed over). A correct run writes nothing at the default level.
 */
export const stderrLogger = (verbose = false): Logger =>
  fromPino(pino({ name: 'distributary', level: verbose ? 'info' : 'warn', base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true })));
