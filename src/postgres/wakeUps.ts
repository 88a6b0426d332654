import pg from 'pg';
import { wakeable } from '../core/wakeable.ts';
import { retryUntilAborted } from '../core/retryUntilAborted.ts';
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
  const closing = new AbortController();
  const notify = (): void => {
    generation++;
    appended.wake();
  };

  const listen = async (): Promise<void> => {
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
      if (closing.signal.aborted) return void (await next.end());
      client = next;
      notify();
    } catch (error) {
      void next.end().catch(() => undefined);
      throw error;
    }
  };
  // Failures to connect are outages: waited out quietly (the reader polls meanwhile).
  const connect = (): Promise<unknown> => retryUntilAborted(listen, { signal: closing.signal, onError: () => undefined });
  void connect();

  return {
    generation: () => generation,
    async wait(since, ms, signal) {
      if (generation !== since) return;
      await appended.wait(ms, signal);
    },
    async close() {
      closing.abort();
      await client?.end().catch(() => undefined);
      notify();
    },
  };
};
