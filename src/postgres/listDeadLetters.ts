import type pg from 'pg';

export type DeadLetterRow = {
  id: string;
  processorId: string;
  partition: string | null;
  globalPosition: bigint;
  messageType: string | null;
  errorMessage: string;
  attempts: number;
  /** What the failure did: `halted` the partition or `skipped` the event. */
  decision: string;
  status: 'halted' | 'skipped' | 'retry' | 'resolved' | 'discarded';
  discardReason: string | null;
  firstFailedAt: Date;
  lastFailedAt: Date;
};

/** Dead letters, oldest first, optionally for one projector and partition. */
export type DeadLetterFilter = { processorId?: string; partition?: string; status?: DeadLetterRow['status']; limit?: number };

export const listDeadLetters = async (db: pg.Pool, filter: DeadLetterFilter = {}): Promise<DeadLetterRow[]> => {
  const { rows } = await db.query<{
    id: string; processor_id: string; partition: string | null; global_position: string; message_type: string | null;
    error_message: string; attempts: number; decision: string; status: DeadLetterRow['status']; discard_reason: string | null;
    first_failed_at: Date; last_failed_at: Date;
  }>(
    `SELECT id::text, processor_id, partition, global_position::text, message_type, error_message, attempts, decision, status,
            discard_reason, first_failed_at, last_failed_at
       FROM distributary_dead_letters
      WHERE ($1::text IS NULL OR processor_id = $1) AND ($2::text IS NULL OR partition = $2) AND ($3::text IS NULL OR status = $3)
      ORDER BY id LIMIT $4`,
    [filter.processorId ?? null, filter.partition ?? null, filter.status ?? null, filter.limit ?? 1000],
  );
  return rows.map((row) => ({
    id: row.id,
    processorId: row.processor_id,
    partition: row.partition,
    globalPosition: BigInt(row.global_position),
    messageType: row.message_type,
    errorMessage: row.error_message,
    attempts: row.attempts,
    decision: row.decision,
    status: row.status,
    discardReason: row.discard_reason,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
  }));
};
