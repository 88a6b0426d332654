import type pg from 'pg';
import { partitionIdentity } from '../core/partitionIdentity.ts';

export type PartitionLease = { processorId: string; partition: string; epoch: number; acquiredAt: Date };
type Key = { processorId: string; partition: string };
type Held = Key & { epoch: number };

const columns = (keys: readonly (Key | Held)[]) => [keys.map((k) => k.processorId), keys.map((k) => k.partition), keys.map((k) => ('epoch' in k ? k.epoch : 0))];

/*
 * Leases per (projector, partition) in `distributary_partition_owners`. A lease is taken when it is
 * free, expired or released, and never while a commit of its previous owner is running: commits hold
 * the row FOR KEY SHARE, which the FOR UPDATE SKIP LOCKED of an acquisition steps around. Renewing
 * (a plain update) does not wait for commits.
 */
export const partitionLeases = (db: pg.Pool, options: { hostId: string; timeoutMs: number }) => ({
  /** Takes those of `wanted` that can be taken now, each with a new epoch. */
  async acquire(wanted: readonly Key[]): Promise<PartitionLease[]> {
    if (wanted.length === 0) return [];
    const [processorIds, partitions] = columns(wanted);
    const { rows } = await db.query<{ processor_id: string; partition: string; epoch: string; acquired_at: Date }>(
      `WITH wanted AS (SELECT * FROM unnest($1::text[], $2::text[]) AS w(processor_id, partition)),
       takeable AS (
         SELECT o.processor_id, o.partition, o.owner FROM distributary_partition_owners o
           JOIN wanted w ON w.processor_id = o.processor_id AND w.partition = o.partition
          WHERE o.expires_at < clock_timestamp() OR o.owner = $3
          FOR UPDATE OF o SKIP LOCKED
       ),
       taken AS (
         UPDATE distributary_partition_owners o
            SET owner = $3, epoch = o.epoch + 1, acquired_at = clock_timestamp(), expires_at = clock_timestamp() + $4 * interval '1 millisecond'
           FROM takeable t
          WHERE o.processor_id = t.processor_id AND o.partition = t.partition
         RETURNING o.processor_id, o.partition, o.epoch, o.acquired_at, t.owner AS previous_owner
       ),
       fresh AS (
         INSERT INTO distributary_partition_owners (processor_id, partition, owner, epoch, acquired_at, expires_at)
         SELECT w.processor_id, w.partition, $3, 1, clock_timestamp(), clock_timestamp() + $4 * interval '1 millisecond' FROM wanted w
          WHERE NOT EXISTS (SELECT 1 FROM distributary_partition_owners o WHERE o.processor_id = w.processor_id AND o.partition = w.partition)
         ON CONFLICT DO NOTHING
         RETURNING processor_id, partition, epoch, acquired_at, NULL::text AS previous_owner
       ),
       acquired AS (SELECT * FROM taken UNION ALL SELECT * FROM fresh),
       logged AS (
         INSERT INTO distributary_ownership_log (processor_id, partition, epoch, owner, previous_owner, acquired_at)
         SELECT processor_id, partition, epoch, $3, previous_owner, acquired_at FROM acquired
       )
       SELECT processor_id, partition, epoch::text, acquired_at FROM acquired`,
      [processorIds, partitions, options.hostId, options.timeoutMs],
    );
    return rows.map((row) => ({ processorId: row.processor_id, partition: row.partition, epoch: Number(row.epoch), acquiredAt: row.acquired_at }));
  },

  /** Extends the leases still held; returns the keys of those renewed (the others are lost). */
  async renew(held: readonly Held[]): Promise<Set<string>> {
    if (held.length === 0) return new Set();
    const { rows } = await db.query<{ processor_id: string; partition: string }>(
      `UPDATE distributary_partition_owners o SET expires_at = clock_timestamp() + $5 * interval '1 millisecond'
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS h(processor_id, partition, epoch)
        WHERE o.processor_id = h.processor_id AND o.partition = h.partition AND o.epoch = h.epoch
          AND o.owner = $4 AND o.expires_at > clock_timestamp()
       RETURNING o.processor_id, o.partition`,
      [...columns(held), options.hostId, options.timeoutMs],
    );
    return new Set(rows.map((row) => partitionIdentity(row.processor_id, row.partition)));
  },

  /** Gives leases up at once, so the next owner need not wait for them to expire. */
  async release(held: readonly Held[]): Promise<void> {
    if (held.length === 0) return;
    await db.query(
      `UPDATE distributary_partition_owners o SET expires_at = '-infinity'
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS h(processor_id, partition, epoch)
        WHERE o.processor_id = h.processor_id AND o.partition = h.partition AND o.epoch = h.epoch AND o.owner = $4`,
      [...columns(held), options.hostId],
    );
  },
});

export type PartitionLeases = ReturnType<typeof partitionLeases>;
