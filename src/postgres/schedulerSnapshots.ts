import type pg from 'pg';
import type { PartitionSnapshot } from '../core/partitionScheduler.ts';

export type ThreadSnapshot = { hostId: string; processorId: string; thread: number; takenAt: Date; partitions: PartitionSnapshot[] };

/** Keeps, per thread, the partitions worth looking at in an incident (the threads send only those): events waiting or in flight, halted, retrying, or a weight other than 1. */
export const storeSchedulerSnapshots = async (db: pg.Pool, hostId: string, snapshots: { processorId: string; thread: number; partitions: PartitionSnapshot[] }[]): Promise<void> => {
  if (snapshots.length === 0) return;
  await db.query(
    `INSERT INTO distributary_scheduler_snapshots (host_id, processor_id, thread, taken_at, partitions)
     SELECT $1, s.processor_id, s.thread, clock_timestamp(), s.partitions FROM unnest($2::text[], $3::int[], $4::jsonb[]) AS s(processor_id, thread, partitions)
     ON CONFLICT (host_id, processor_id, thread) DO UPDATE SET taken_at = EXCLUDED.taken_at, partitions = EXCLUDED.partitions`,
    [hostId, snapshots.map((s) => s.processorId), snapshots.map((s) => s.thread), snapshots.map((s) => JSON.stringify(s.partitions))],
  );
};

/** Snapshots written in the last `freshMs` (hosts that stopped writing are left out). */
export const readSchedulerSnapshots = async (db: pg.Pool, options: { processorId?: string; freshMs: number }): Promise<ThreadSnapshot[]> => {
  const { rows } = await db.query<{ host_id: string; processor_id: string; thread: number; taken_at: Date; partitions: PartitionSnapshot[] }>(
    `SELECT host_id, processor_id, thread, taken_at, partitions FROM distributary_scheduler_snapshots
      WHERE ($1::text IS NULL OR processor_id = $1) AND taken_at > clock_timestamp() - $2 * interval '1 millisecond'
      ORDER BY processor_id, host_id, thread`,
    [options.processorId ?? null, options.freshMs],
  );
  return rows.map((row) => ({ hostId: row.host_id, processorId: row.processor_id, thread: row.thread, takenAt: row.taken_at, partitions: row.partitions }));
};
