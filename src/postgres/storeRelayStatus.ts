import type pg from 'pg';

export type RelayStatusRow = {
  app: string;
  hostId: string;
  position: bigint | null;
  streams: number;
  published: number;
  aliveForMs: number;
  startedAt: Date;
  stopped?: boolean;
};

/** A relay's heartbeat, with how far it has published. */
export const storeRelayStatus = async (db: pg.Pool, row: RelayStatusRow): Promise<void> => {
  await db.query(
    `INSERT INTO distributary_relay_status (app, host_id, position, streams, published, alive_for_ms, started_at, heartbeat_at, stopped_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp(), CASE WHEN $8 THEN clock_timestamp() END)
     ON CONFLICT (app) DO UPDATE SET host_id = EXCLUDED.host_id, position = EXCLUDED.position, streams = EXCLUDED.streams,
       published = EXCLUDED.published, alive_for_ms = EXCLUDED.alive_for_ms, started_at = EXCLUDED.started_at,
       heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = EXCLUDED.stopped_at`,
    [row.app, row.hostId, row.position?.toString() ?? null, row.streams, row.published, row.aliveForMs, row.startedAt, row.stopped === true],
  );
};
