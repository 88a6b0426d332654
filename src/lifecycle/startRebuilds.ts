import type { Dumbo } from '@event-driven-io/dumbo';
import { transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type pg from 'pg';
import type { Logger } from '../core/logger.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { finishRebuild } from '../postgres/finishRebuild.ts';
import { readRebuilds, type RebuildRow } from '../postgres/readRebuilds.ts';
import { resetPartition } from './resetPartition.ts';

/** The rebuilds a reader session carries out: per projector, the partitions replayed from their start, and whole-projector rebuilds. */
export type SessionRebuilds = { partitions: Map<string, Map<string, RebuildRow>>; whole: Map<string, RebuildRow> };

/** Why a requested rebuild cannot be done, or undefined when it can. */
export const refusal = (projector: AnyPartitionedProjector | undefined, row: RebuildRow): string | undefined => {
  if (projector === undefined) return `no projector '${row.processorId}' runs here`;
  if (row.partition !== null && projector.truncatePartition === undefined)
    return `projector '${row.processorId}' has no truncatePartition: it cannot delete one partition's rows, so only the whole projector can be rebuilt`;
  if (row.partition === null && projector.projection.truncate === undefined) return `projector '${row.processorId}' has a projection without truncate`;
  return undefined;
};

/**
 * At the start of a reader session (no thread holds any partition yet): resets what each requested
 * rebuild rebuilds, in one transaction per rebuild — one partition's read-model rows (the projector's
 * `truncatePartition`) and its checkpoint, or the whole projection (`truncate`), every checkpoint
 * and the low-water marks — and marks it running with the store's head. Rebuilds already running (a
 * session that ended half-way) go on from where their checkpoints are. The session then replays.
 */
export const startRebuilds = async (context: {
  pool: Dumbo;
  db: pg.Pool;
  connectionString: string;
  projectors: readonly AnyPartitionedProjector[];
  logger: Logger;
}): Promise<SessionRebuilds> => {
  const { pool, db, logger } = context;
  const byId = new Map(context.projectors.map((projector) => [projector.processorId, projector]));
  const rows = await readRebuilds(db, { processorIds: [...byId.keys()], open: true });
  const result: SessionRebuilds = { partitions: new Map(), whole: new Map() };
  for (const row of rows.reverse()) {
    const projector = byId.get(row.processorId);
    const refused = refusal(projector, row);
    if (refused !== undefined) {
      await db.query("UPDATE distributary_rebuilds SET status = 'running' WHERE id = $1::bigint AND status = 'requested'", [row.id]);
      await finishRebuild(db, row.id, { replayed: 0, error: refused });
      logger.warn(`rebuild ${row.id} of ${row.processorId}${row.partition === null ? '' : `/${row.partition}`} refused: ${refused}`);
      continue;
    }
    if (row.status === 'requested' && row.partition !== null) {
      await resetPartition({ pool, connectionString: context.connectionString, projector: projector!, partition: row.partition, rebuildId: row.id });
      logger.info(`rebuild ${row.id} of ${row.processorId}/${row.partition}: read models reset, replaying`, { processorId: row.processorId, partition: row.partition });
    } else if (row.status === 'requested') {
      await pool.withTransaction(async (transaction) => {
        const handlerContext = await transactionToPostgreSQLProjectionHandlerContext(context.connectionString, pool, transaction);
        const client = handlerContext.connection.client as pg.PoolClient;
        const claimed = await client.query(
          `UPDATE distributary_rebuilds SET status = 'running', started_at = clock_timestamp(),
                  through = (SELECT max(global_position) FROM emt_messages WHERE partition = 'emt:default')
            WHERE id = $1::bigint AND status = 'requested'`,
          [row.id],
        );
        if (claimed.rowCount !== 1) return;
        await projector!.projection.truncate!(handlerContext);
        await client.query(
          `DELETE FROM emt_processors WHERE (processor_id = $1 AND partition <> 'emt:default')
              OR (processor_id LIKE 'distributary:mark:%' AND right(processor_id, length($1) + 1) = ':' || $1)`,
          [row.processorId],
        );
      });
      logger.info(`rebuild ${row.id} of ${row.processorId}: read models reset, replaying`, { processorId: row.processorId });
    }
    const [running] = await readRebuilds(db, { id: row.id });
    if (running?.status !== 'running') continue;
    if (running.partition === null) result.whole.set(running.processorId, running);
    else {
      let partitions = result.partitions.get(running.processorId);
      if (partitions === undefined) result.partitions.set(running.processorId, (partitions = new Map<string, RebuildRow>()));
      partitions.set(running.partition, running);
    }
  }
  return result;
};
