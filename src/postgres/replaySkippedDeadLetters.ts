import type { Dumbo } from '@event-driven-io/dumbo';
import { transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type pg from 'pg';
import { toErrorInfo } from '../core/errors.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { reviveEvent, type StoredEvent } from '../projector/reviveEvent.ts';

/**
 * Applies skipped dead letters an operator asked to retry. Their partitions' checkpoints are already
 * past them, so each is applied alone, out of order, in one transaction with its `resolved` mark;
 * one that fails again goes back to `skipped` with the new error. Safe to run on several hosts at once.
 */
export const replaySkippedDeadLetters = async (
  db: pg.Pool,
  pool: Dumbo,
  connectionString: string,
  projectors: ReadonlyMap<string, AnyPartitionedProjector>,
): Promise<number> => {
  const { rows } = await db.query<{ id: string; processor_id: string; payload: StoredEvent }>(
    `SELECT id::text, processor_id, payload FROM distributary_dead_letters
      WHERE status = 'retry' AND decision = 'skipped' AND processor_id = ANY($1::text[]) ORDER BY id`,
    [[...projectors.keys()]],
  );
  for (const row of rows) {
    const projector = projectors.get(row.processor_id);
    if (projector === undefined) continue;
    try {
      await pool.withTransaction(async (transaction) => {
        const context = await transactionToPostgreSQLProjectionHandlerContext(connectionString, pool, transaction);
        // Claimed first: of several hosts replaying, one applies it and the others find it resolved.
        const claimed = await context.connection.client.query("UPDATE distributary_dead_letters SET status = 'resolved' WHERE id = $1 AND status = 'retry'", [row.id]);
        if (claimed.rowCount === 1) await projector.projection.handle([reviveEvent(row.payload)], context);
      });
    } catch (error) {
      const info = toErrorInfo(error);
      await db.query(
        `UPDATE distributary_dead_letters SET status = 'skipped', attempts = attempts + 1, error_name = $2, error_message = $3,
                error_stack = $4, last_failed_at = now() WHERE id = $1`,
        [row.id, info.name, info.message, info.stack ?? null],
      );
    }
  }
  return rows.length;
};
