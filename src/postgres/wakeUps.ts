import pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.ts';
import { wakeable } from '../core/wakeable.ts';
import { backoffDelay, DefaultBackoff } from '../core/backoff.ts';
import type { Logger } from '../core/logger.ts';
import { MessagesAppendedChannel } from './migrate.ts';

export type WakeUps = {
  /** Increases with every notification; take it before reading so nothing between read and wait is missed. */
  generation(): number;
  /** Resolves on the next append after `since`, after `ms` at the latest, or when `signal` aborts. */
  wait(since: number, ms: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
};

/**
 * Listens for the append trigger's notifications on a dedicated connection, reconnecting with backoff.
 * The fallback `ms` of `wait` keeps the reader correct when notifications are lost (connection drop,
 * events appended by a store without the trigger).
 */
export const wakeUps = (connectionString: string, logger: Logger): WakeUps => {
  let generation = 0;
  const appended = wakeable();
  let client: pg.Client | undefined;
  let closed = false;
  const notify = (): void => {
    generation++;
    appended.wake();
  };

  const connect = async (attempt = 1): Promise<void> => {
    if (closed) return;
    const next = new pg.Client({ connectionString });
    try {
      next.on('notification', notify);
      next.on('error', (error) => {
        logger.warn('wake-up connection lost; polling until it is back', { error: error.message });
        client = undefined;
        void next.end().catch(() => undefined);
        void connect();
      });
      await next.connect();
      await next.query(`LISTEN ${MessagesAppendedChannel}`);
      if (closed) return void (await next.end());
      client = next;
      notify();
    } catch {
      void next.end().catch(() => undefined);
      await abortableSleep(backoffDelay(DefaultBackoff, attempt));
      return connect(attempt + 1);
    }
  };
  void connect();

  return {
    generation: () => generation,
    async wait(since, ms, signal) {
      if (generation !== since) return;
      await appended.wait(ms, signal);
    },
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
      notify();
    },
  };
};
