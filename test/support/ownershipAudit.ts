import type pg from 'pg';

/*
 * Checks over the ledger's audit rows (each names the lease owner and epoch its commit held) and the
 * ownership log (every lease acquisition), for runs where hosts share partitions.
 */

/** Commits that held no lease, or a lower epoch than an earlier commit of the same partition. */
export const fencingViolations = async (db: pg.Pool, projector: string): Promise<string[]> => {
  const { rows } = await db.query<{ problem: string }>(
    `SELECT tenant || ' @' || position || ': ' || CASE WHEN epoch IS NULL THEN 'no lease' ELSE 'epoch ' || epoch || ' after ' || previous END AS problem
       FROM (SELECT a.tenant, a.position, a.epoch,
                    lag(a.epoch) OVER (PARTITION BY a.tenant ORDER BY m.transaction_id, m.global_position) AS previous
               FROM ledger_audit a JOIN emt_messages m ON m.global_position = a.position
              WHERE a.projector = $1) ordered
      WHERE epoch IS NULL OR epoch < previous`,
    [projector],
  );
  return rows.map((row) => row.problem);
};

/** A later lease on a partition acquired before the last commit under an earlier one: two owners at once. */
export const overlappingLeases = async (db: pg.Pool, projector: string): Promise<string[]> => {
  const { rows } = await db.query<{ problem: string }>(
    `WITH tenures AS (
       SELECT tenant, epoch, max(committed_at) AS last_commit FROM ledger_audit
        WHERE projector = $1 AND epoch IS NOT NULL GROUP BY tenant, epoch)
     SELECT t.tenant || ': epoch ' || l.epoch || ' (' || l.owner || ') acquired before the last commit of epoch ' || t.epoch AS problem
       FROM tenures t JOIN distributary_ownership_log l
         ON l.processor_id = $1 AND l.partition = t.tenant AND l.epoch > t.epoch AND l.acquired_at < t.last_commit`,
    [projector],
  );
  return rows.map((row) => row.problem);
};

export type HandOver = { partition: string; ms: number | null };

/**
 * For the partitions `hostId` owned at `at` (by the database clock): how long until another
 * acquisition, null when none happened.
 */
export const handOversAfter = async (db: pg.Pool, projector: string, hostId: string, at: Date): Promise<HandOver[]> => {
  const { rows } = await db.query<{ partition: string; ms: number | null }>(
    `SELECT l.partition,
            extract(epoch FROM (SELECT min(n.acquired_at) FROM distributary_ownership_log n
                                 WHERE n.processor_id = l.processor_id AND n.partition = l.partition AND n.epoch > l.epoch) - $3::timestamptz) * 1000 AS ms
       FROM distributary_ownership_log l
      WHERE l.processor_id = $1 AND l.owner = $2 AND l.acquired_at <= $3
        AND NOT EXISTS (SELECT 1 FROM distributary_ownership_log n
                         WHERE n.processor_id = l.processor_id AND n.partition = l.partition AND n.epoch > l.epoch AND n.acquired_at <= $3)`,
    [projector, hostId, at],
  );
  return rows.map((row) => ({ partition: row.partition, ms: row.ms === null ? null : Number(row.ms) }));
};

/** The database's clock now, to compare with its timestamps. */
export const databaseNow = async (db: pg.Pool): Promise<Date> => (await db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now;
