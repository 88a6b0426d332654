import { transactionToPostgreSQLProjectionHandlerContext, type PostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type { Dumbo } from '@event-driven-io/dumbo';
import { BatchTimeoutError } from '../core/errors.ts';
import { isCreateRace } from '../core/isTransientError.ts';
import { hash64 } from '../core/jumpHash.ts';
import { isCovered, type Position } from '../core/position.ts';
import type { CommitOutcome } from '../core/partitionScheduler.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { PositionedEvent } from './readEventBatch.ts';
import { storeCheckpoint, storeCheckpointGroup, type CommitLease } from './storeCheckpoint.ts';

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
  /**
   * The projector has not committed a write from this thread yet: the transaction takes the
   * projector's advisory lock first, so the tables a projection creates on its first write (Pongo's
   * collections) are created by one transaction while the others wait, instead of racing.
   */
  firstWrites?: boolean;
};

/** How long a projector's first transactions wait for its first-writes lock before going on without it. */
const FirstWritesLockMs = 1000;

/**
 * Takes the projector's first-writes lock for the transaction, waiting at most FirstWritesLockMs: a
 * holder that is stuck (a paused host) must not hold up the projector, and without the lock a lost
 * CREATE race only costs a run again.
 */
const firstWritesLock = async (client: { query(sql: string, values: unknown[]): Promise<{ rows: { locked: boolean }[] }> }, processorId: string): Promise<void> => {
  const key = BigInt.asIntN(64, hash64(`distributary:first-writes:${processorId}`)).toString();
  for (const deadline = Date.now() + FirstWritesLockMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 10)))
    if ((await client.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [key])).rows[0]?.locked === true) return;
};

/** Times a transaction that lost a race to create a table is run again at once (the table exists then). */
const CreateRaceRetries = 3;

// A connection that dies while checked out (server restart, a terminated batch) emits 'error' on its
// client; the transaction's own queries already fail, so the event itself needs no handling.
const guarded = new WeakSet<object>();
const guard = (client: { on(event: 'error', listener: () => void): unknown }): void => {
  if (guarded.has(client)) return;
  guarded.add(client);
  client.on('error', () => undefined);
};

type Fence = { ok: true } | { ok: false };

/**
 * The partition runner's one step, in a single transaction: `fence` first (the checkpoint
 * compare-and-set; on failure everything rolls back), then `work` writes the read models, cut off
 * after the projector's batchTimeoutMs; anything but success rolls back. The checkpoint goes first so
 * a competing owner blocks on the checkpoint row and then fails the compare, instead of colliding on
 * read-model rows.
 */
const inFencedTransaction = async <F extends Fence>(
  scope: Pick<PartitionTransaction, 'pool' | 'connectionString' | 'projector' | 'terminate' | 'firstWrites'>,
  label: string,
  fence: (client: PostgreSQLProjectionHandlerContext['connection']['client']) => Promise<F>,
  work: (context: PostgreSQLProjectionHandlerContext) => Promise<number>,
): Promise<{ fenced: Exclude<F, { ok: true }> } | { applied: number }> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inFencedTransactionOnce(scope, label, fence, work);
    } catch (error) {
      if (attempt > CreateRaceRetries || !isCreateRace(error)) throw error;
    }
  }
};

const inFencedTransactionOnce = async <F extends Fence>(
  scope: Pick<PartitionTransaction, 'pool' | 'connectionString' | 'projector' | 'terminate' | 'firstWrites'>,
  label: string,
  fence: (client: PostgreSQLProjectionHandlerContext['connection']['client']) => Promise<F>,
  work: (context: PostgreSQLProjectionHandlerContext) => Promise<number>,
): Promise<{ fenced: Exclude<F, { ok: true }> } | { applied: number }> => {
  let timedOut: BatchTimeoutError | undefined;
  try {
    return await scope.pool.withTransaction<{ fenced: Exclude<F, { ok: true }> } | { applied: number }>(async (transaction) => {
      const context = await transactionToPostgreSQLProjectionHandlerContext(scope.connectionString, scope.pool, transaction);
      guard(context.connection.client);
      if (scope.firstWrites === true) await firstWritesLock(context.connection.client, scope.projector.processorId);
      const fenced = await fence(context.connection.client);
      if (!fenced.ok) return { success: false, result: { fenced: fenced as Exclude<F, { ok: true }> } };
      const working = work(context);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          const { batchTimeoutMs } = scope.projector.onError;
          const error = new BatchTimeoutError(`${label}: batch still running after ${batchTimeoutMs} ms; its transaction was terminated`);
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
        return { success: true, result: { applied: await Promise.race([working, deadline]) } };
      } finally {
        clearTimeout(timer);
      }
    });
  } catch (error) {
    throw timedOut ?? error;
  }
};

/** One partition's transaction: its checkpoint moves from `scope.checkpoint` to `next` with what `work` writes. */
export const inPartitionTransaction = async (
  scope: PartitionTransaction,
  next: Position,
  work: (context: PostgreSQLProjectionHandlerContext) => Promise<number>,
): Promise<CommitOutcome<Position>> => {
  const outcome = await inFencedTransaction(
    scope,
    `${scope.projector.processorId}/${scope.partition}`,
    (client) =>
      storeCheckpoint(client, {
        processorId: scope.projector.processorId,
        partition: scope.partition,
        version: scope.projector.version,
        instanceId: scope.instanceId,
        expected: scope.checkpoint,
        next,
        lease: scope.lease,
      }),
    work,
  );
  return 'fenced' in outcome ? outcome.fenced : { ok: true, checkpoint: next, applied: outcome.applied };
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

/** One partition's batch in a group that shares a transaction. */
export type GroupMember = { scope: PartitionTransaction; items: readonly PositionedEvent[] };

/**
 * Several partitions' batches of one projector in one transaction: every checkpoint moves by
 * compare-and-set in one statement, then the projection's `handle` gets the events of all of them
 * (each partition's in order, one partition after another). Fewer round trips per event when many
 * partitions each have a few events. Resolves with each member's outcome when all committed, or
 * undefined when a checkpoint did not move (nothing was written; each partition then commits on its own,
 * where the reason is told apart); a throwing projection rejects the same way a single batch does.
 */
export const applyPartitionGroup = async (members: readonly GroupMember[]): Promise<CommitOutcome<Position>[] | undefined> => {
  const fresh = members.map(({ scope, items }) => items.filter((item) => !isCovered(item.position, scope.checkpoint)));
  const writing = members.flatMap((member, i) => (fresh[i]!.length > 0 ? [{ scope: member.scope, items: fresh[i]! }] : []));
  const first = writing[0]?.scope;
  if (first !== undefined) {
    const { projector } = first;
    const outcome = await inFencedTransaction(
      first,
      `${projector.processorId}/{${writing.map((member) => member.scope.partition).join(', ')}}`,
      async (client) => ({
        ok: await storeCheckpointGroup(client, {
          processorId: projector.processorId,
          version: projector.version,
          instanceId: first.instanceId,
          moves: writing.map(({ scope, items }) => ({ partition: scope.partition, expected: scope.checkpoint, next: items.at(-1)!.position, lease: scope.lease })),
        }),
      }),
      async (context) => {
        const events = writing.flatMap(({ items }) => items.map((item) => item.event));
        await projector.projection.handle(events, context);
        return events.length;
      },
    );
    if ('fenced' in outcome) return undefined;
  }
  return members.map(({ scope }, i) => {
    const last = fresh[i]!.at(-1);
    return last === undefined ? { ok: true, checkpoint: scope.checkpoint, applied: 0 } : { ok: true, checkpoint: last.position, applied: fresh[i]!.length };
  });
};
