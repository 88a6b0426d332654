import type pg from 'pg';
import { readRebuildProgress, type RebuildProgressRow } from './readRebuildProgress.ts';

export type StatusRows = {
  takenAt: Date;
  hosts: {
    host_id: string; group_name: string; role: string; transport: string; threads: number; partitions: number; rss_bytes: string;
    alive: boolean; heartbeat_age: number; started_at: Date; stopped_at: Date | null;
  }[];
  partitions: {
    processor_id: string; partition: string; host_id: string; thread: number; leased_since: Date | null; lease_epoch: string | null; checkpoint: string | null; head: string | null; lag_events: string;
    lag_seconds: number; state: string; applied: string; last_error: string | null; updated_at: Date; alive: boolean; heartbeat_age: number | null;
    dead_letters: number; weight: number;
  }[];
  relays: {
    app: string; host_id: string; position: string | null; store_head: string | null; lag_events: string; lag_seconds: number; streams: number;
    published: string; alive: boolean; heartbeat_age: number; stopped_at: Date | null;
  }[];
  rebuilds: RebuildProgressRow[];
};

const alive = (h: string): string =>
  `(${h}.stopped_at IS NULL AND ${h}.heartbeat_at > clock_timestamp() - ${h}.alive_for_ms * interval '1 millisecond')`;

/**
 * What engines and relays last wrote, in one snapshot, with ages taken on the database's clock (the
 * clock the heartbeats were written with): hosts alive or not, partitions with their open dead
 * letters and weights, relays with the store's head and the age of the first event not published,
 * rebuilds open or finished within `rebuildsFinishedWithinSeconds` with how far the running ones are.
 */
export const readStatusRows = async (db: pg.Pool, filter: { processorId?: string; rebuildsFinishedWithinSeconds: number }): Promise<StatusRows> => {
  const client = await db.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const now = await client.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    const hosts = await client.query<StatusRows['hosts'][number]>(
      `SELECT host_id, group_name, role, transport, threads, partitions, rss_bytes::text, ${alive('h')} AS alive,
              extract(epoch FROM clock_timestamp() - heartbeat_at)::float8 AS heartbeat_age, started_at, stopped_at
         FROM distributary_engine_hosts h ORDER BY group_name, host_id`,
    );
    const partitions = await client.query<StatusRows['partitions'][number]>(
      `SELECT s.processor_id, s.partition, s.host_id, s.thread, s.leased_since, s.lease_epoch::text, s.checkpoint::text, s.head::text, s.lag_events::text,
              CASE WHEN s.oldest_unapplied_at IS NULL THEN 0
                   ELSE greatest(0, extract(epoch FROM clock_timestamp() - s.oldest_unapplied_at))::float8 END AS lag_seconds,
              s.state, s.applied::text, s.last_error, s.updated_at,
              COALESCE(${alive('h')}, false) AS alive, extract(epoch FROM clock_timestamp() - h.heartbeat_at)::float8 AS heartbeat_age,
              COALESCE(d.open, 0)::int AS dead_letters, COALESCE(w.weight, 1)::float8 AS weight
         FROM distributary_partition_status s
         LEFT JOIN distributary_engine_hosts h ON h.host_id = s.host_id
         LEFT JOIN (SELECT processor_id, partition, count(*) AS open FROM distributary_dead_letters
                     WHERE status IN ('halted', 'skipped', 'retry') AND partition IS NOT NULL GROUP BY processor_id, partition) d
                ON d.processor_id = s.processor_id AND d.partition = s.partition
         LEFT JOIN distributary_partition_weights w ON w.processor_id = s.processor_id AND w.partition = s.partition
        WHERE $1::text IS NULL OR s.processor_id = $1`,
      [filter.processorId ?? null],
    );
    const relays = await client.query<StatusRows['relays'][number]>(
      `SELECT r.app, r.host_id, r.position::text, head.global::text AS store_head,
              CASE WHEN head.global IS NULL THEN 0 ELSE (SELECT count(*) FROM emt_messages m
                WHERE m.partition = 'emt:default' AND m.is_archived = FALSE AND m.global_position > COALESCE(r.position, 0)) END::text AS lag_events,
              COALESCE((SELECT greatest(0, extract(epoch FROM clock_timestamp() - m.created))::float8 FROM emt_messages m
                WHERE m.partition = 'emt:default' AND m.is_archived = FALSE AND m.global_position > COALESCE(r.position, 0)
                ORDER BY m.global_position LIMIT 1), 0) AS lag_seconds,
              r.streams, r.published::text, ${alive('r')} AS alive,
              extract(epoch FROM clock_timestamp() - r.heartbeat_at)::float8 AS heartbeat_age, r.stopped_at
         FROM distributary_relay_status r
         LEFT JOIN LATERAL (SELECT max(global_position) AS global FROM emt_messages WHERE partition = 'emt:default') head ON TRUE
        ORDER BY r.app`,
    );
    const rebuilds = await readRebuildProgress(client, { processorId: filter.processorId, finishedWithinSeconds: filter.rebuildsFinishedWithinSeconds });
    await client.query('COMMIT');
    return { takenAt: now.rows[0]!.now, hosts: hosts.rows, partitions: partitions.rows, relays: relays.rows, rebuilds };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
};
