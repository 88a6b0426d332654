import type pg from 'pg';
import { DistributaryError, WaitTimeoutError } from '../core/errors.ts';
import { readRebuilds, type RebuildRow } from '../postgres/readRebuilds.ts';
import { pollUntil } from '../core/pollUntil.ts';

/** A rebuild that ended without rebuilding: the reason says why (a projector without truncatePartition, ...). */
export class RebuildFailedError extends DistributaryError {}

/** Resolves with the rebuild once done, whichever host did it; rejects when it failed or at the deadline. */
export const waitForRebuild = async (db: pg.Pool, id: string, timeoutMs: number): Promise<RebuildRow> => {
  let last: RebuildRow | undefined;
  const ended = await pollUntil(
    async () => {
      const [row] = await readRebuilds(db, { id });
      if (row === undefined) throw new RebuildFailedError(`rebuild ${id} does not exist`);
      last = row;
      if (row.status === 'failed') throw new RebuildFailedError(`rebuild ${id} of ${row.processorId}${row.partition === null ? '' : `/${row.partition}`} failed: ${row.error ?? 'no reason given'}`);
      return row.status === 'done' ? row : undefined;
    },
    { timeoutMs, everyMs: 200 },
  );
  if (ended === undefined) throw new WaitTimeoutError(`rebuild ${id} of ${last?.processorId ?? '?'} not done within ${timeoutMs} ms (${last?.status ?? 'unknown'})`);
  return ended;
};
