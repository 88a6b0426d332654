import type pg from 'pg';
import { formatCheckpoint, parseCheckpoint } from '../core/checkpointFormat.ts';
import { comparePositions, type Position } from '../core/position.ts';
import { installedCheckpointFormat } from './installedCheckpointFormat.ts';
import { storedPositionSql } from './storedPositionSql.ts';

export type StoreCheckpointResult = { ok: true } | { ok: false; reason: 'IGNORED' | 'MISMATCH' | 'CURRENT_AHEAD' | 'LEASE_LOST' };

const stored = storedPositionSql('p');

/** The lease a commit must still hold: its owner and epoch (the fencing token). */
export type CommitLease = { owner: string; epoch: number };

/**
 * Compare-and-set of a checkpoint in Emmett's `emt_processors`: moves it from `expected` to `next`
 * only if `expected` is what is stored. The row keeps Emmett's layout: `last_processed_checkpoint` in
 * the format the installed Emmett writes, `last_processed_transaction_id` the event's transaction,
 * which with the position orders checkpoints the way events are delivered. `expected` matches a row
 * stored in either format (Emmett rewrites rows to its newer one when it upgrades). A competing owner
 * blocks on the row until the first commits, then fails the compare. With a `lease`, the move also needs that lease
 * (owner and epoch, unexpired), whose row it holds FOR KEY SHARE until the commit ends, so nobody
 * takes the lease meanwhile.
 */
export const storeCheckpoint = async (
  client: pg.ClientBase | pg.Pool,
  options: { processorId: string; partition: string; version: number; instanceId: string; expected: Position | null; next: Position; lease?: CommitLease },
): Promise<StoreCheckpointResult> => {
  const { processorId, partition, version, instanceId, expected, next, lease } = options;
  if (await storeCheckpointGroup(client, { processorId, version, instanceId, moves: [{ partition, expected, next, lease }] })) return { ok: true };
  // Why it did not move: told apart by what is stored.
  const { rows } = await client.query<{ checkpoint: string; tx: string }>(
    `SELECT last_processed_checkpoint AS checkpoint, last_processed_transaction_id::text AS tx
       FROM emt_processors WHERE processor_id = $1 AND partition = $2 AND version = $3`,
    [processorId, partition, version],
  );
  const current = rows[0] === undefined ? undefined : parseCheckpoint(rows[0].checkpoint, rows[0].tx);
  const unchanged = current === undefined ? expected === null : expected !== null && comparePositions(current, expected) === 0;
  if (lease !== undefined && unchanged) return { ok: false, reason: 'LEASE_LOST' };
  if (current === undefined) return { ok: false, reason: 'MISMATCH' };
  const order = comparePositions(current, next);
  return { ok: false, reason: order === 0 ? 'IGNORED' : order > 0 ? 'CURRENT_AHEAD' : 'MISMATCH' };
};

/** One partition's move in a group: from `expected` to `next`, under `lease` when partitions are leased. */
export type CheckpointMove = { partition: string; expected: Position | null; next: Position; lease?: CommitLease };

/**
 * The compare-and-set of `storeCheckpoint` for one or several partitions of one projector, in one
 * statement (batches that share a transaction move all theirs at once). True only when every checkpoint
 * moved; otherwise the caller rolls back and commits each partition on its own, where
 * `storeCheckpoint` tells the reason apart. (Two groups that share a partition, which happens only
 * while it changes hands, may deadlock: the error rolls one back the same way.)
 */
export const storeCheckpointGroup = async (
  client: pg.ClientBase | pg.Pool,
  options: { processorId: string; version: number; instanceId: string; moves: readonly CheckpointMove[] },
): Promise<boolean> => {
  const { processorId, version, instanceId, moves } = options;
  const leaseHeld = `(i.owner IS NULL OR EXISTS (SELECT 1 FROM distributary_partition_owners o
                        WHERE o.processor_id = $1 AND o.partition = i.partition AND o.owner = i.owner AND o.epoch = i.epoch
                          AND o.expires_at > clock_timestamp() FOR KEY SHARE))`;
  const { rows } = await client.query<{ moved: number }>(
    `WITH i AS (SELECT * FROM unnest($4::text[], $5::text[], $6::xid8[], $7::bigint[], $8::xid8[], $9::text[], $10::bigint[])
                       AS i(partition, next_checkpoint, next_tx, expected_global, expected_tx, owner, epoch)),
          updated AS (
            UPDATE emt_processors p
               SET last_processed_checkpoint = i.next_checkpoint, last_processed_transaction_id = i.next_tx,
                   processor_instance_id = $3, status = 'running', last_updated = now()
              FROM i
             WHERE p.processor_id = $1 AND p.partition = i.partition AND p.version = $2 AND i.expected_global IS NOT NULL
               AND (${stored.tx}, ${stored.global}) = (i.expected_tx, i.expected_global)
               AND ${leaseHeld}
            RETURNING 1),
          inserted AS (
            INSERT INTO emt_processors (processor_id, partition, version, last_processed_checkpoint, last_processed_transaction_id,
                                        processor_instance_id, status, created_at, last_updated)
            SELECT $1, i.partition, $2, i.next_checkpoint, i.next_tx, $3, 'running', now(), now()
              FROM i WHERE i.expected_global IS NULL AND ${leaseHeld}
            ON CONFLICT (processor_id, partition, version) DO NOTHING
            RETURNING 1)
     SELECT ((SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted))::int AS moved`,
    [
      processorId,
      version,
      instanceId,
      moves.map((m) => m.partition),
      moves.map((m) => formatCheckpoint(m.next, installedCheckpointFormat)),
      moves.map((m) => m.next.tx.toString()),
      moves.map((m) => (m.expected === null ? null : m.expected.global.toString())),
      moves.map((m) => (m.expected === null ? null : m.expected.tx.toString())),
      moves.map((m) => m.lease?.owner ?? null),
      moves.map((m) => (m.lease === undefined ? null : String(m.lease.epoch))),
    ],
  );
  return rows[0]?.moved === moves.length;
};
