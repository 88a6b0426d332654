import { transactionToPostgreSQLProjectionHandlerContext, type PostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type { Dumbo } from '@event-driven-io/dumbo';
import { BatchTimeoutError } from '../core/errors.js';
import { isCovered, type Position } from '../core/position.js';
import type { CommitOutcome } from '../core/partitionScheduler.js';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.js';
import type { PositionedEvent } from './readEventBatch.js';
import { storeCheckpoint, type CommitLease } from './storeCheckpoint.js';

export type PartitionTransaction = {
  pool: Dumbo;
  connectionString: string;
  projector: AnyPartitionedProjector;
  partition: string;
  /** The checkpoint this owner believes is stored; the commit is fenced on it. */
  checkpoint: Position | null;
  instanceId: string;
  /** The lease the commit must still hold, when partitions are leased (hosts sharing partitions). */
  lease?: CommitLease;
  /** Ends a backend whose batch ran out of time (pg_terminate_backend), so its locks go with it. */
  terminate: (backendPid: number) => Promise<void>;
};

/**
 * The partition runner's one step: in a single transaction, move the checkpoint from `checkpoint`
 * to `next` by compare-and-set, then let `work` write the read models. The checkpoint goes first so
 * a competing owner blocks on the checkpoint row and then fails the compare, instead of colliding
 * on read-model rows. Anything but success rolls back.
 */
// A connection that dies while checked out (server restart, a terminated batch) emits 'error' on its
// client; the transaction's own queries already fail, so the event itself needs no handling.
const guarded = new WeakSet<object>();
const guard = (client: { on(event: 'error', listener: () => void): unknown }): void => {
  if (guarded.has(client)) return;
  guarded.add(client);
  client.on('error', () => undefined);
};

export const inPartitionTransaction = async (
  scope: PartitionTransaction,
  next: Position,
  work: (context: PostgreSQLProjectionHandlerContext) => Promise<number>,
): Promise<CommitOutcome<Position>> => {
  let timedOut: BatchTimeoutError | undefined;
  try {
    return await scope.pool.withTransaction<CommitOutcome<Position>>(async (transaction) => {
      const context = await transactionToPostgreSQLProjectionHandlerContext(scope.connectionString, scope.pool, transaction);
      guard(context.connection.client);
      const stored = await storeCheckpoint(context.connection.client, {
        processorId: scope.projector.processorId,
        partition: scope.partition,
        version: scope.projector.version,
        instanceId: scope.instanceId,
        expected: scope.checkpoint,
        next,
        lease: scope.lease,
      });
      if (!stored.ok) return { success: false, result: stored };
      const working = work(context);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          const { batchTimeoutMs } = scope.projector.onError;
          const error = new BatchTimeoutError(`${scope.projector.processorId}/${scope.partition}: batch still running after ${batchTimeoutMs} ms; its transaction was terminated`);
          timedOut = error;
          const pid = (context.connection.client as { processID?: number }).processID;
          // The backend goes before the transaction gives its connection back: the cut-off projection
          // may still be running, and none of what it sends later may land in another transaction.
          void (pid === undefined ? Promise.resolve() : scope.terminate(pid).catch(() => undefined)).then(() => reject(error));
        }, scope.projector.onError.batchTimeoutMs);
      });
      // A projection cut off by the deadline may still settle later; nothing waits for it.
      working.catch(() => undefined);
      try {
        const applied = await Promise.race([working, deadline]);
        return { success: true, result: { ok: true, checkpoint: next, applied } };
      } finally {
        clearTimeout(timer);
      }
    });
  } catch (error) {
    throw timedOut ?? error;
  }
};

/** Applies the events the checkpoint does not cover through the projection's own `handle`, with the checkpoint, atomically. */
export const applyPartitionBatch = async (scope: PartitionTransaction, items: readonly PositionedEvent[]): Promise<CommitOutcome<Position>> => {
  const fresh = items.filter((item) => !isCovered(item.position, scope.checkpoint));
  const last = fresh.at(-1);
  if (last === undefined) return { ok: true, checkpoint: scope.checkpoint, applied: 0 };
  return inPartitionTransaction(scope, last.position, async (context) => {
    await scope.projector.projection.handle(
      fresh.map((item) => item.event),
      context,
    );
    return fresh.length;
  });
};
