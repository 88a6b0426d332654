import type pg from 'pg';
import type { ErrorInfo } from '../core/errors.js';
import type { ProjectorEvent } from '../projector/partitionedProjector.js';

export type DeadLetter = {
  processorId: string;
  /** Null when the event has no usable partition key. */
  partition: string | null;
  event: ProjectorEvent;
  error: ErrorInfo;
  attempts: number;
  /** What became of the partition: `skipped` moved the checkpoint past the event. */
  decision: 'skipped';
};

const toJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** Keeps an event that could not be applied, with why. Recording the same event again updates the attempt count. */
export const recordDeadLetter = async (db: pg.ClientBase | pg.Pool, letter: DeadLetter): Promise<void> => {
  const { event, error } = letter;
  await db.query(
    `INSERT INTO distributary_dead_letters
       (processor_id, partition, global_position, stream_name, message_type, message_id, payload,
        error_name, error_message, error_stack, attempts, decision)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)
     ON CONFLICT (processor_id, global_position) DO UPDATE
       SET attempts = distributary_dead_letters.attempts + EXCLUDED.attempts,
           error_name = EXCLUDED.error_name, error_message = EXCLUDED.error_message,
           error_stack = EXCLUDED.error_stack, last_failed_at = now()`,
    [
      letter.processorId,
      letter.partition,
      event.metadata.globalPosition.toString(),
      event.metadata.streamName ?? null,
      typeof event.type === 'string' ? event.type : null,
      event.metadata.messageId ?? null,
      toJson({ type: event.type, data: event.data, metadata: event.metadata }),
      error.name,
      error.message,
      error.stack ?? null,
      letter.attempts,
      letter.decision,
    ],
  );
};
