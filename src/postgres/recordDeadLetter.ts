import type pg from 'pg';
import type { ErrorInfo } from '../core/errors.ts';
import { toJson } from '../core/toJson.ts';
import type { FailurePolicy } from '../core/partitionScheduler.ts';
import type { PositionedEvent } from './readEventBatch.ts';

export type DeadLetter = {
  processorId: string;
  /** Null when the event has no usable partition key. */
  partition: string | null;
  item: PositionedEvent;
  error: ErrorInfo;
  attempts: number;
  /** `halt`: the partition waits in front of the event; `skip`: the checkpoint moved past it. */
  policy: FailurePolicy;
};


/** Keeps an event that could not be applied, with why. Recording the same event again adds the attempts and takes the new outcome. */
export const recordDeadLetter = async (db: pg.ClientBase | pg.Pool, letter: DeadLetter): Promise<void> => {
  const { item, error } = letter;
  const { event } = item;
  const decision = letter.policy === 'halt' ? 'halted' : 'skipped';
  await db.query(
    `INSERT INTO distributary_dead_letters
       (processor_id, partition, global_position, transaction_id, stream_name, message_type, message_id, payload,
        error_name, error_message, error_stack, attempts, decision, status)
     VALUES ($1, $2, $3, $4::xid8, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $13)
     ON CONFLICT (processor_id, global_position) DO UPDATE
       SET attempts = distributary_dead_letters.attempts + EXCLUDED.attempts,
           error_name = EXCLUDED.error_name, error_message = EXCLUDED.error_message, error_stack = EXCLUDED.error_stack,
           decision = EXCLUDED.decision, status = EXCLUDED.status, last_failed_at = now()`,
    [
      letter.processorId,
      letter.partition,
      item.position.global.toString(),
      item.position.tx.toString(),
      event.metadata.streamName ?? null,
      typeof event.type === 'string' ? event.type : null,
      event.metadata.messageId ?? null,
      toJson({ type: event.type, data: event.data, metadata: event.metadata }),
      error.name,
      error.message,
      error.stack ?? null,
      letter.attempts,
      decision,
    ],
  );
};
