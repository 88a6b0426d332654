import type pg from 'pg';
import { comparePositions, type Position } from '../core/position.js';

export type StoreCheckpointResult = { ok: true } | { ok: false; reason: 'IGNORED' | 'MISMATCH' | 'CURRENT_AHEAD' | 'LEASE_LOST' };

/** The lease a commit must still hold: its owner and epoch (the fencing token). */
export type CommitLease = { owner: string; epoch: number };

const normalized = (global: bigint): string => global.toString().padStart(19, '0');

/**
 * Compare-and-set of a checkpoint in Emmett's `emt_processors`: moves it from `expected` to `next`
 * only if `expected` is what is stored. The row keeps Emmett's layout (zero-padded global position in
 * `last_processed_checkpoint`); `last_processed_transaction_id` holds the event's transaction, which
 * with the position orders checkpoints the way events are delivered. A competing owner blocks on the
 * row until the first commits, then fails the compare. With a `lease`, the move also needs that lease
 * (owner and epoch, unexpired), whose row it holds FOR KEY SHARE until the commit ends, so nobody
 * takes the lease meanwhile.
 */
export const storeCheckpoint = async (
  client: pg.ClientBase | pg.Pool,
  options: { processorId: string; partition: string; version: number; instanceId: string; expected: Position | null; next: Position; lease?: CommitLease },
): Promise<StoreCheckpointResult> => {
  const { processorId, partition, version, instanceId, expected, next, lease } = options;
  const leased = lease !== undefined;
  // With a lease, $7/$8 (insert) or $9/$10 (update) are its owner and epoch.
  const fenced = (position: number): string =>
    leased ? `EXISTS (SELECT 1 FROM distributary_partition_owners WHERE processor_id = $1 AND partition = $2 AND owner = $${position}
                      AND epoch = $${position + 1} AND expires_at > clock_timestamp() FOR KEY SHARE)` : 'TRUE';
  const leaseParams = leased ? [lease.owner, lease.epoch] : [];
  const moved = [processorId, partition, version, normalized(next.global), next.tx.toString(), instanceId];
  const written =
    expected === null
      ? await client.query(
          `INSERT INTO emt_processors (processor_id, partition, version, last_processed_checkpoint, last_processed_transaction_id,
                                       processor_instance_id, status, created_at, last_updated)
           SELECT $1, $2, $3, $4, $5::xid8, $6, 'running', now(), now() WHERE ${fenced(7)}
           ON CONFLICT (processor_id, partition, version) DO NOTHING`,
          [...moved, ...leaseParams],
        )
      : await client.query(
          `UPDATE emt_processors
              SET last_processed_checkpoint = $4, last_processed_transaction_id = $5::xid8,
                  processor_instance_id = $6, status = 'running', last_updated = now()
            WHERE processor_id = $1 AND partition = $2 AND version = $3
              AND last_processed_checkpoint = $7 AND last_processed_transaction_id = $8::xid8 AND ${fenced(9)}`,
          [...moved, normalized(expected.global), expected.tx.toString(), ...leaseParams],
        );
  if (written.rowCount === 1) return { ok: true };
  const { rows } = await client.query<{ global: string; tx: string }>(
    `SELECT last_processed_checkpoint AS global, last_processed_transaction_id::text AS tx
       FROM emt_processors WHERE processor_id = $1 AND partition = $2 AND version = $3`,
    [processorId, partition, version],
  );
  const current = rows[0];
  const unchanged =
    current === undefined ? expected === null : expected !== null && comparePositions({ tx: BigInt(current.tx), global: BigInt(current.global) }, expected) === 0;
  if (leased && unchanged) return { ok: false, reason: 'LEASE_LOST' };
  if (current === undefined) return { ok: false, reason: 'MISMATCH' };
  const order = comparePositions({ tx: BigInt(current.tx), global: BigInt(current.global) }, next);
  return { ok: false, reason: order === 0 ? 'IGNORED' : order > 0 ? 'CURRENT_AHEAD' : 'MISMATCH' };
};
