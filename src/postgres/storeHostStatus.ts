import type pg from 'pg';

export type HostStatusRow = {
  hostId: string;
  group: string;
  role: string;
  transport: 'in-process' | 'jetstream';
  threads: number;
  partitions: number;
  rssBytes: number;
  /** How long this heartbeat counts: past it, readers take the host for dead. */
  aliveForMs: number;
  startedAt: Date;
  /** Set once, by a host that stops cleanly. */
  stopped?: boolean;
};

/** A host's heartbeat, with what it runs. */
export const storeHostStatus = async (db: pg.Pool, row: HostStatusRow): Promise<void> => {
  await db.query(
    `INSERT INTO distributary_engine_hosts (host_id, group_name, role, transport, threads, partitions, rss_bytes, alive_for_ms, started_at, heartbeat_at, stopped_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp(), CASE WHEN $10 THEN clock_timestamp() END)
     ON CONFLICT (host_id) DO UPDATE SET group_name = EXCLUDED.group_name, role = EXCLUDED.role, transport = EXCLUDED.transport,
       threads = EXCLUDED.threads, partitions = EXCLUDED.partitions, rss_bytes = EXCLUDED.rss_bytes, alive_for_ms = EXCLUDED.alive_for_ms,
       heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = EXCLUDED.stopped_at`,
    [row.hostId, row.group, row.role, row.transport, row.threads, row.partitions, row.rssBytes, row.aliveForMs, row.startedAt, row.stopped === true],
  );
};
