import { storeProcessorCheckpoint, transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type { Dumbo } from '@event-driven-io/dumbo';
import type pg from 'pg';
import type { AnyPartitionedProjector, ProjectorEvent } from '../projector/partitionedProjector.js';

export type CommitResult =
  | { ok: true; checkpoint: bigint | null; applied: number }
  | { ok: false; reason: 'IGNORED' | 'MISMATCH' | 'CURRENT_AHEAD' };

export type PartitionTransaction = {
  pool: Dumbo;
  connectionString: string;
  projector: AnyPartitionedProjector;
  partition: string;
  /** The checkpoint this owner believes is stored; the commit is fenced on it. */
  checkpoint: bigint | null;
  instanceId: string;
};

/**
 * The partition runner's one step: in a single transaction, move the checkpoint from `checkpoint` to the
 * batch's last position by compare-and-set, then let `work` write the read models. The checkpoint is
 * stored first so a competing owner blocks on the checkpoint row and then fails the compare, instead of
 * colliding on read-model rows. Anything but success rolls back.
 */
export const inPartitionTransaction = async (
  scope: PartitionTransaction,
  newCheckpoint: bigint,
  work: (context: Awaited<ReturnType<typeof transactionToPostgreSQLProjectionHandlerContext>>, client: pg.ClientBase) => Promise<number>,
): Promise<CommitResult> =>
  scope.pool.withTransaction<CommitResult>(async (transaction) => {
    const stored = await storeProcessorCheckpoint(transaction.execute, {
      processorId: scope.projector.processorId,
      version: scope.projector.version,
      partition: scope.partition,
      processorInstanceId: scope.instanceId,
      lastProcessedCheckpoint: scope.checkpoint,
      newCheckpoint,
    });
    if (!stored.success) return { success: false, result: { ok: false, reason: stored.reason } };
    const context = await transactionToPostgreSQLProjectionHandlerContext(scope.connectionString, scope.pool, transaction);
    const applied = await work(context, context.connection.client);
    return { success: true, result: { ok: true, checkpoint: newCheckpoint, applied } };
  });

/** Applies events above the checkpoint through the projection's own `handle`, with the checkpoint, atomically. */
export const applyPartitionBatch = async (scope: PartitionTransaction, events: readonly ProjectorEvent[]): Promise<CommitResult> => {
  const floor = scope.checkpoint ?? -1n;
  const fresh = events.filter((event) => event.metadata.globalPosition > floor);
  const last = fresh.at(-1);
  if (last === undefined) return { ok: true, checkpoint: scope.checkpoint, applied: 0 };
  return inPartitionTransaction(scope, last.metadata.globalPosition, async (context) => {
    await scope.projector.projection.handle(fresh, context);
    return fresh.length;
  });
};
