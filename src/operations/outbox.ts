import pg from 'pg';
import { DistributaryError } from '../core/errors.ts';

export type OutboxDeadLetter = { id: string; processorId: string; partition: string; key: string; topic: string; attempts: number; lastError: string | null; createdAt: Date; deadAt: Date };
export type OutboxPending = { processorId: string; topic: string; messages: number; partitions: number; retrying: number; oldestAt: Date };

export type Outbox = {
  /** Messages waiting for a dispatcher, per reactor and topic. */
  pending(): Promise<OutboxPending[]>;
  deadLetters(): Promise<OutboxDeadLetter[]>;
  /** Puts a dead letter back in the outbox, where it is its partition's oldest message: delivered next. */
  retry(id: string): Promise<void>;
  /** Deletes a dead letter for good. */
  discard(id: string): Promise<void>;
  close(): Promise<void>;
};

const checkId = (id: string): string => {
  if (!/^[1-9][0-9]{0,18}$/.test(id)) throw new DistributaryError(`an outbox dead letter id is a positive integer, got '${id}'`);
  return id;
};

/** Operations on the reactors' outbox, for tools and admin endpoints. */
export const outbox = (options: { connectionString: string }): Outbox => {
  const db = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  return {
    async pending() {
      const { rows } = await db.query<{ processor_id: string; topic: string; messages: number; partitions: number; retrying: number; oldest_at: Date }>(
        `SELECT processor_id, topic, count(*)::int AS messages, count(DISTINCT partition)::int AS partitions,
                count(*) FILTER (WHERE attempts > 0)::int AS retrying, min(created_at) AS oldest_at
           FROM distributary_outbox GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      return rows.map((r) => ({ processorId: r.processor_id, topic: r.topic, messages: r.messages, partitions: r.partitions, retrying: r.retrying, oldestAt: r.oldest_at }));
    },
    async deadLetters() {
      const { rows } = await db.query<{ id: string; processor_id: string; partition: string; message_key: string; topic: string; attempts: number; last_error: string | null; created_at: Date; dead_at: Date }>(
        'SELECT id::text, processor_id, partition, message_key, topic, attempts, last_error, created_at, dead_at FROM distributary_outbox_dead_letters ORDER BY id',
      );
      return rows.map((r) => ({ id: r.id, processorId: r.processor_id, partition: r.partition, key: r.message_key, topic: r.topic, attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at, deadAt: r.dead_at }));
    },
    async retry(id) {
      const { rowCount } = await db.query(
        `WITH back AS (DELETE FROM distributary_outbox_dead_letters WHERE id = $1 RETURNING *)
         INSERT INTO distributary_outbox (id, processor_id, partition, message_key, topic, payload, created_at, attempts, last_error)
         SELECT id, processor_id, partition, message_key, topic, payload, created_at, 0, last_error FROM back`,
        [checkId(id)],
      );
      if (rowCount === 0) throw new DistributaryError(`no outbox dead letter with id ${id}`);
    },
    async discard(id) {
      const { rowCount } = await db.query('DELETE FROM distributary_outbox_dead_letters WHERE id = $1', [checkId(id)]);
      if (rowCount === 0) throw new DistributaryError(`no outbox dead letter with id ${id}`);
    },
    close: () => db.end(),
  };
};
