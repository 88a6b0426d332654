import type { Dumbo } from '@event-driven-io/dumbo';
import { transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type pg from 'pg';
import type { Logger } from '../core/logger.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { finishRebuild } from '../postgres/finishRebuild.ts';
import { readRebuilds, type RebuildRow } from '../postgres/readRebuilds.ts';
import { resetPartition } from './resetPartition.ts';
import { marksOfProcessorSql } from '../postgres/markIds.ts';
import { refuseRebuild } from '../postgres/refuseRebuild.ts';

/** The rebuilds a reader session carries out: per projector, the partitions replayed from their start, and whole-projector rebuilds. */
export type SessionRebuilds = { partitions: Map<string, Map<string, RebuildRow>>; whole: Map<string, RebuildRow> };

/** Why a requested rebuild cannot be done, or undefined when it can. */
export const refusal = (projector: AnyPartitionedProjector | undefined, row: RebuildRow, removed?: ReadonlySet<string>): string | undefined => {
  if (projector === undefined) return `no projector '${row.processorId}' runs here`;
  if (row.partition !== null && removed?.has(row.partition) === true) return `tenant '${row.partition}' is removed: restore it instead`;
  if (projector.adopted !== undefined)
    return `projector '${row.processorId}' went on from Emmett's checkpoint (adopt: 'emmett-checkpoint'): a replay would leave out the events Emmett applied; give it a new processorId to build it from the start`;
  if (row.partition !== null && projector.truncatePartition === undefined)
    return `projector '${row.processorId}' has no truncatePartition: it cannot delete one partition's rows, so only the whole projector can be rebuilt`;
  if (row.partition === null && projector.projection.truncate === undefined) return `projector '${row.processorId}' has a projection without truncate`;
  return undefined;
};

/** Resets a whole projector for its rebuild: its projection truncated, its checkpoints and marks deleted; false if another claimed it. */
const resetProjector = async (pool: Dumbo, connectionString: string, projector: AnyPartitionedProjector, rebuildId: string): Promise<boolean> =>
  pool.withTransaction(async (transaction) => {
    const handlerContext = await transactionToPostgreSQLProjectionHandlerContext(connectionString, pool, transaction);
    const client = handlerContext.connection.client as pg.PoolClient;
    const claimed = await client.query(
      `UPDATE distributary_rebuilds SET status = 'running', started_at = clock_timestamp(),
              through = (SELECT max(global_position) FROM emt_messages WHERE partition = 'emt:default')
        WHERE id = $1::bigint AND status = 'requested'`,
      [rebuildId],
    );
    if (claimed.rowCount !== 1) return false;
    await client.query(`DELETE FROM emt_processors WHERE (processor_id = $1 AND partition <> 'emt:default') OR ${marksOfProcessorSql('processor_id', '$1')}`, [projector.processorId]);
    await projector.projection.truncate!(handlerContext);
    return true;
  });

/**
 * At the start of a reader session (no thread holds any partition yet): resets what each requested
 * rebuild rebuilds, in one transaction per rebuild — one partition's read-model rows (the projector's
 * `truncatePartition`) and its checkpoint, or the whole projection (`truncate`), every checkpoint
 * and the low-water marks — and marks it running with the store's head. Rebuilds already running (a
 * session that ended half-way) go on from where their checkpoints are. A rebuild whose reset fails is
 * recorded as failed, and the others go on. A later rebuild of the same partition supersedes an
 * earlier one. The session then replays.
 */
export const startRebuilds = async (context: {
  pool: Dumbo;
  db: pg.Pool;
  connectionString: string;
  projectors: readonly AnyPartitionedProjector[];
  removed: ReadonlySet<string>;
  logger: Logger;
}): Promise<SessionRebuilds> => {
  const { pool, db, logger } = context;
  const byId = new Map(context.projectors.map((projector) => [projector.processorId, projector]));
  const rows = await readRebuilds(db, { processorIds: [...byId.keys()], open: true });
  const result: SessionRebuilds = { partitions: new Map(), whole: new Map() };
  const fail = async (row: RebuildRow, reason: string): Promise<void> => {
    if (await refuseRebuild(db, row.id, reason)) logger.warn(`rebuild ${row.id} of ${rebuildTarget(row)} failed: ${reason}`, { processorId: row.processorId, partition: row.partition });
  };
  for (const row of rows.reverse()) {
    const projector = byId.get(row.processorId);
    const refused = refusal(projector, row, context.removed);
    if (refused !== undefined) {
      await fail(row, refused);
      continue;
    }
    try {
      const reset =
        row.status !== 'requested' ||
        (row.partition !== null
          ? await resetPartition({ pool, connectionString: context.connectionString, projector: projector!, partition: row.partition, rebuildId: row.id })
          : await resetProjector(pool, context.connectionString, projector!, row.id));
      if (!reset) continue;
      if (row.status === 'requested') logger.info(`rebuild ${row.id} of ${rebuildTarget(row)}: read models reset, replaying`, { processorId: row.processorId, partition: row.partition });
    } catch (error) {
      await fail(row, `could not reset: ${(error as Error).message}`);
      continue;
    }
    const [running] = await readRebuilds(db, { id: row.id });
    if (running?.status !== 'running') continue;
    if (running.partition === null) {
      const earlier = result.whole.get(running.processorId);
      if (earlier !== undefined) await finishRebuild(db, earlier.id, { replayed: 0 });
      result.whole.set(running.processorId, running);
      continue;
    }
    let partitions = result.partitions.get(running.processorId);
    if (partitions === undefined) result.partitions.set(running.processorId, (partitions = new Map<string, RebuildRow>()));
    // The later reset restarted the replay: the earlier one is done when it is.
    const earlier = partitions.get(running.partition);
    if (earlier !== undefined) await finishRebuild(db, earlier.id, { replayed: 0 });
    partitions.set(running.partition, running);
  }
  return result;
};

const rebuildTarget = (row: RebuildRow): string => `${row.processorId}${row.partition === null ? '' : `/${row.partition}`}`;
