import type pg from 'pg';
import { DistributaryError, WaitTimeoutError } from '../core/errors.ts';
import { readRebuilds, type RebuildRow } from '../postgres/readRebuilds.ts';

/** A rebuild that ended without rebuilding: the reason says why (a projector without truncatePartition, ...). */
export class RebuildFailedError extends DistributaryError {}

/** Resolves with the rebuild once done, whichever host did it; rejects when it failed or at the deadline. */
export const waitForRebuild = async (db: pg.Pool, id: string, timeoutMs: number, onProgress?: (row: RebuildRow) => void): Promise<RebuildRow> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await readRebuilds(db, { id });
    if (row === undefined) throw new RebuildFailedError(`rebuild ${id} does not exist`);
    onProgress?.(row);
    if (row.status === 'done') return row;
    if (row.status === 'failed') throw new RebuildFailedError(`rebuild ${id} of ${row.processorId}${row.partition === null ? '' : `/${row.partition}`} failed: ${row.error ?? 'no reason given'}`);
    if (Date.now() > deadline) throw new WaitTimeoutError(`rebuild ${id} of ${row.processorId} not done within ${timeoutMs} ms (${row.status})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
