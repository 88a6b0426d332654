import pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.ts';
import { backoffDelay, type BackoffOptions, type ResolvedBackoffOptions } from '../core/backoff.ts';
import { ConfigurationError, WaitTimeoutError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { asLogger, stderrLogger, type AnyLogger } from '../logging/pinoLogger.ts';
import { inTransaction } from '../postgres/inTransaction.ts';
import { migrate } from '../postgres/migrate.ts';
import { optionChecks } from '../options/optionChecks.ts';

export type OutboxRow = { id: string; processorId: string; partition: string; key: string; topic: string; payload: unknown; attempts: number; createdAt: Date };

export type OutboxDispatcherOptions = {
  connectionString: string;
  /** Sends one message; resolving means delivered (the row goes), throwing means try again later. Pass `key` on so the receiver can drop repeats. */
  deliver: (message: OutboxRow) => Promise<void>;
  /** Messages in flight at once, each of a different partition. @default 4 */
  concurrency?: number;
  /** How often an idle dispatcher looks for messages. @default 200 */
  pollMs?: number;
  /** Failed deliveries of one message before it moves to `distributary_outbox_dead_letters`. @default 10 */
  retries?: number;
  /** @default { initialMs: 500, maxMs: 60000, jitter: 0.2 } */
  backoff?: BackoffOptions;
  logger?: AnyLogger;
};

export type OutboxDispatcher = {
  start(): Promise<void>;
  /** Resolves once nothing is due (the rows left wait for a retry, or there are none). */
  whenIdle(options?: { timeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
};

const check = optionChecks('outboxDispatcher');

/*
 * Claims a partition's oldest row, and only that one: a later row of the partition is no candidate
 * while an earlier one is there (the heads are found by walking the (partition, id) index once per
 * partition, not by scanning the table), and a claimed row is locked (FOR UPDATE SKIP LOCKED), so dispatchers
 * in parallel, in one process or many, deliver each partition's messages in order. The row is deleted
 * in the transaction that claimed it, once delivered; a dispatcher killed mid-delivery leaves it to the
 * next (at least once: receivers drop repeats by key).
 */
const claimSql = `
WITH RECURSIVE heads AS (
  (SELECT partition, id FROM distributary_outbox ORDER BY partition, id LIMIT 1)
  UNION ALL
  SELECT next.partition, next.id FROM heads,
    LATERAL (SELECT partition, id FROM distributary_outbox WHERE partition > heads.partition ORDER BY partition, id LIMIT 1) next
)
SELECT o.id::text, o.processor_id, o.partition, o.message_key, o.topic, o.payload, o.attempts, o.created_at
  FROM distributary_outbox o JOIN heads ON heads.id = o.id
 WHERE o.next_attempt_at <= now()
 ORDER BY o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED`;

type ClaimedRow = { id: string; processor_id: string; partition: string; message_key: string; topic: string; payload: unknown; attempts: number; created_at: Date };

/** Delivers what reactors put in the outbox: per partition in order, with retries and backoff, dead letters when they run out. */
export const outboxDispatcher = (options: OutboxDispatcherOptions): OutboxDispatcher => {
  check.known('', options, ['connectionString', 'deliver', 'concurrency', 'pollMs', 'retries', 'backoff', 'logger']);
  check.known('backoff', options.backoff, ['initialMs', 'maxMs', 'jitter']);
  if (typeof options.connectionString !== 'string' || options.connectionString === '') throw new ConfigurationError('outboxDispatcher: options.connectionString must be a PostgreSQL connection string');
  if (typeof options.deliver !== 'function') throw new ConfigurationError('outboxDispatcher: options.deliver must be a function');
  const concurrency = check.positiveInteger('concurrency', options.concurrency, 4);
  const pollMs = check.positive('pollMs', options.pollMs, 200);
  const retries = check.nonNegativeInteger('retries', options.retries, 10);
  const backoff: ResolvedBackoffOptions = {
    initialMs: check.positive('backoff.initialMs', options.backoff?.initialMs, 500),
    maxMs: check.positive('backoff.maxMs', options.backoff?.maxMs, 60_000),
    jitter: check.fraction('backoff.jitter', options.backoff?.jitter, 0.2),
  };
  const logger: Logger = asLogger(options.logger ?? stderrLogger());
  const stopping = new AbortController();
  let db: pg.Pool | undefined;
  let workers: Promise<void>[] = [];

  /** Delivery failed: tried again after a backoff, or moved to the dead letters once out of retries. */
  const failed = async (client: pg.PoolClient, row: ClaimedRow, error: unknown): Promise<void> => {
    const reason = error instanceof Error ? error.message : String(error);
    const attempts = row.attempts + 1;
    const details = { key: row.message_key, partition: row.partition, topic: row.topic, error: reason };
    if (attempts > retries) {
      await client.query(
        `WITH gone AS (DELETE FROM distributary_outbox WHERE id = $1 RETURNING *)
         INSERT INTO distributary_outbox_dead_letters (id, processor_id, partition, message_key, topic, payload, created_at, attempts, last_error)
         SELECT id, processor_id, partition, message_key, topic, payload, created_at, $2, $3 FROM gone`,
        [row.id, attempts, reason],
      );
      logger.error('outbox: a message failed every delivery and moved to the dead letters', { ...details, attempts });
      return;
    }
    await client.query('UPDATE distributary_outbox SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1', [
      row.id,
      attempts,
      reason,
      backoffDelay(backoff, attempts) / 1000,
    ]);
    if (attempts === 1) logger.warn('outbox: delivery failed; retrying with backoff', details);
  };

  /** One claim and its delivery, in the transaction that holds the row; false when nothing was due. */
  const deliverOne = (pool: pg.Pool): Promise<boolean> =>
    inTransaction(pool, async (client) => {
      const row = (await client.query<ClaimedRow>(claimSql)).rows[0];
      if (row === undefined) return false;
      try {
        await options.deliver({ id: row.id, processorId: row.processor_id, partition: row.partition, key: row.message_key, topic: row.topic, payload: row.payload, attempts: row.attempts, createdAt: row.created_at });
        await client.query('DELETE FROM distributary_outbox WHERE id = $1', [row.id]);
      } catch (error) {
        await failed(client, row, error);
      }
      return true;
    });


  const work = async (pool: pg.Pool): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        if (!(await deliverOne(pool))) await abortableSleep(pollMs, stopping.signal);
      } catch (error) {
        if (stopping.signal.aborted) return;
        logger.warn('outbox: cannot claim messages; trying again', { error: error instanceof Error ? error.message : String(error) });
        await abortableSleep(Math.max(pollMs, 1000), stopping.signal);
      }
    }
  };

  return {
    async start() {
      if (db !== undefined) throw new ConfigurationError('outboxDispatcher: start() called twice');
      await migrate(options.connectionString);
      const pool = new pg.Pool({ connectionString: options.connectionString, max: concurrency + 1 });
      pool.on('error', (error) => logger.warn('outbox: idle PostgreSQL connection failed', { error: error.message }));
      db = pool;
      workers = Array.from({ length: concurrency }, () => work(pool));
    },
    async whenIdle({ timeoutMs = 30_000 } = {}) {
      const pool = db;
      if (pool === undefined) throw new ConfigurationError('outboxDispatcher: whenIdle() before start()');
      for (const deadline = Date.now() + timeoutMs; ; await abortableSleep(50, stopping.signal)) {
        const { rows } = await pool.query<{ due: boolean }>('SELECT EXISTS (SELECT 1 FROM distributary_outbox WHERE next_attempt_at <= now()) AS due');
        if (rows[0]?.due !== true) return;
        if (Date.now() > deadline) throw new WaitTimeoutError(`outboxDispatcher: messages still due after ${timeoutMs} ms`);
      }
    },
    async stop() {
      stopping.abort();
      await Promise.all(workers);
      await db?.end();
    },
  };
};
