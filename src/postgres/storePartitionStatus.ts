import type pg from 'pg';

export type PartitionStatusRow = {
  processorId: string;
  partition: string;
  thread: number;
  /** Over JetStream: when the owner took the partition's lease, and its epoch. */
  leasedSince: Date | null;
  leaseEpoch: number | null;
  checkpoint: bigint | null;
  head: bigint | null;
  lagEvents: number;
  oldestUnappliedAt: Date | null;
  state: string;
  applied: number;
  lastError: string | null;
};

/** The partitions of one host whose status changed, in one statement; each row names the host as its owner. */
export const storePartitionStatus = async (db: pg.Pool, hostId: string, rows: readonly PartitionStatusRow[]): Promise<void> => {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO distributary_partition_status
       (processor_id, partition, host_id, thread, leased_since, lease_epoch, checkpoint, head, lag_events, oldest_unapplied_at, state, applied, last_error, updated_at)
     SELECT r.processor_id, r.partition, $1, r.thread, r.leased_since, r.lease_epoch, r.checkpoint, r.head, r.lag_events, r.oldest_unapplied_at, r.state, r.applied, r.last_error, clock_timestamp()
       FROM unnest($2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::timestamptz[], $11::text[], $12::bigint[], $13::text[])
         AS r(processor_id, partition, thread, leased_since, lease_epoch, checkpoint, head, lag_events, oldest_unapplied_at, state, applied, last_error)
     ON CONFLICT (processor_id, partition) DO UPDATE SET host_id = EXCLUDED.host_id, thread = EXCLUDED.thread, leased_since = EXCLUDED.leased_since,
       lease_epoch = EXCLUDED.lease_epoch, checkpoint = EXCLUDED.checkpoint, head = EXCLUDED.head, lag_events = EXCLUDED.lag_events,
       oldest_unapplied_at = EXCLUDED.oldest_unapplied_at, state = EXCLUDED.state, applied = EXCLUDED.applied, last_error = EXCLUDED.last_error,
       updated_at = EXCLUDED.updated_at`,
    [
      hostId,
      rows.map((r) => r.processorId),
      rows.map((r) => r.partition),
      rows.map((r) => r.thread),
      rows.map((r) => r.leasedSince),
      rows.map((r) => r.leaseEpoch),
      rows.map((r) => r.checkpoint?.toString() ?? null),
      rows.map((r) => r.head?.toString() ?? null),
      rows.map((r) => r.lagEvents),
      rows.map((r) => r.oldestUnappliedAt),
      rows.map((r) => r.state),
      rows.map((r) => r.applied),
      rows.map((r) => r.lastError),
    ],
  );
};
