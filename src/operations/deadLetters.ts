import pg from 'pg';
import { discardDeadLetter } from '../postgres/discardDeadLetter.ts';
import { listDeadLetters, type DeadLetterFilter, type DeadLetterRow } from '../postgres/listDeadLetters.ts';
import { retryDeadLetters, type DeadLetterTarget } from '../postgres/retryDeadLetters.ts';

export type DeadLetters = {
  list(filter?: DeadLetterFilter): Promise<DeadLetterRow[]>;
  /** One letter by id, or every halted/skipped letter of a partition. Running engines pick it up within a mark interval. */
  retry(target: DeadLetterTarget): Promise<number>;
  /** Gives up on one letter; a partition halted in front of it moves past it. */
  discard(options: { id: string; reason: string }): Promise<void>;
  close(): Promise<void>;
};

/** Operations on the dead letters of a store, for tools and admin endpoints; works with or without a running engine. */
export const deadLetters = (options: { connectionString: string }): DeadLetters => {
  const db = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  return {
    list: (filter) => listDeadLetters(db, filter),
    retry: (target) => retryDeadLetters(db, target),
    discard: (discard) => discardDeadLetter(db, discard),
    close: () => db.end(),
  };
};
