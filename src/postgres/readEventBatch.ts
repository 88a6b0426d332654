import type pg from 'pg';
import type { Position } from '../core/position.ts';
import type { ProjectorEvent } from '../projector/partitionedProjector.ts';

/** An event with its position in the store, and when it was appended (ms since the epoch) where known. */
export type PositionedEvent = { position: Position; event: ProjectorEvent; appendedAt?: number };
export type EventBatch = {
  events: PositionedEvent[];
  last: Position;
  /** The batch was full: read again at once. */
  more: boolean;
  /** Committed events exist past `last` that an older, still open transaction keeps back: read again soon. */
  heldBack: boolean;
};

type Row = {
  tx: string;
  global: string;
  stream_id: string;
  stream_position: string;
  message_type: string;
  message_data: ProjectorEvent['data'];
  message_metadata: Record<string, unknown> | null;
  message_id: string;
  appended_ms: number;
};

/**
 * Reads the next events after `after` in delivery order (transaction, then global position), only
 * from transactions older than every open one: nothing can later appear before what was returned.
 * Events are shaped as Emmett's own reader shapes them.
 */
export const readEventBatch = async (db: pg.Pool, after: Position, batchSize: number): Promise<EventBatch> => {
  // One statement, one snapshot: the next events of transactions older than every open one, and
  // whether committed-or-open events past them are kept back by an open transaction (they can only
  // come after what is returned). Always one row, with null columns when there are no events.
  const { rows } = await db.query<Row & { held: boolean }>(
    `SELECT h.held, e.transaction_id::text AS tx, e.global_position::text AS global, e.stream_id, e.stream_position::text AS stream_position,
            e.message_type, e.message_data, e.message_metadata, e.message_id,
            (extract(epoch FROM e.created) * 1000)::float8 AS appended_ms
       FROM (SELECT EXISTS (SELECT 1 FROM emt_messages
                             WHERE partition = 'emt:default' AND is_archived = FALSE
                               AND transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
                               AND (transaction_id, global_position) > ($1::xid8, $2::bigint)) AS held) h
       LEFT JOIN LATERAL (
         SELECT transaction_id, global_position, stream_id, stream_position, message_type, message_data, message_metadata, message_id, created
           FROM emt_messages
          WHERE partition = 'emt:default' AND is_archived = FALSE
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            AND (transaction_id, global_position) > ($1::xid8, $2::bigint)
          ORDER BY emt_messages.transaction_id, emt_messages.global_position
          LIMIT $3) e ON TRUE
      ORDER BY e.transaction_id, e.global_position`,
    [after.tx.toString(), after.global.toString(), batchSize],
  );
  const found = rows.filter((row) => row.global !== null);
  const events = found.map((row): PositionedEvent => {
    const global = BigInt(row.global);
    return {
      position: { tx: BigInt(row.tx), global },
      appendedAt: row.appended_ms,
      event: {
        type: row.message_type,
        data: row.message_data,
        kind: 'Event',
        metadata: {
          ...(row.message_metadata ?? {}),
          messageId: row.message_id,
          streamName: row.stream_id,
          streamPosition: BigInt(row.stream_position),
          globalPosition: global,
        },
      },
    };
  });
  const last = events.at(-1)?.position ?? after;
  const more = found.length === batchSize;
  return { events, last, more, heldBack: !more && rows[0]?.held === true };
};
