import type { NatsConnection } from '@nats-io/transport-node';
import { sharedManager } from './jetstreamClients.ts';
import { activitySubject } from './streamNames.ts';
import { abortableSleep } from '../core/abortableSleep.ts';
import { toErrorInfo } from '../core/errors.ts';
import type { Limiter } from '../core/limiter.ts';
import type { Logger } from '../core/logger.ts';


/** A look over every stream of the app while partitions sleep, for notices missed while disconnected. */
const SweepMs = 60_000;

export type StreamActivity = {
  /**
   * Resolves once `stream` holds messages past `sequence` (at once if it already does), or when
   * `signal` aborts. Waiting costs no timer and no open pull of its own.
   */
  waitPast(stream: string, sequence: number, signal: AbortSignal, api: Limiter): Promise<void>;
  /** Follows the relay's notices until `signal` aborts. */
  run(): Promise<void>;
};

type Sleeper = { sequence: number; wake: () => void };

/*
 * How partitions with nothing to do sleep without a consumer loop each: after a batch is stored, the
 * relay publishes the names of the streams it touched on `{app}.activity` (core NATS, not stored).
 * One subscription per host wakes the partitions sleeping on those streams. A notice can be missed
 * while the connection is down, so every reconnect (and every minute while any partition sleeps)
 * the streams' last sequences are looked at once for all of them.
 */
export const streamActivity = (nc: NatsConnection, app: string, logger: Logger, signal: AbortSignal): StreamActivity => {
  const sleeping = new Map<string, Set<Sleeper>>();

  const wake = (stream: string, lastSequence = Number.POSITIVE_INFINITY): void => {
    const sleepers = sleeping.get(stream);
    if (sleepers === undefined) return;
    for (const sleeper of sleepers) if (lastSequence > sleeper.sequence) sleeper.wake();
  };

  const sweep = async (): Promise<void> => {
    if (sleeping.size === 0) return;
    try {
      const jsm = await sharedManager(nc);
      for await (const info of jsm.streams.list(`${app}.tenants.>`)) wake(info.config.name, info.state.last_seq);
    } catch (error) {
      if (!signal.aborted) logger.warn(`looking over the tenant streams failed: ${toErrorInfo(error).message}`);
    }
  };

  return {
    async waitPast(stream, sequence, partitionSignal, api) {
      if (partitionSignal.aborted) return;
      let sleepers = sleeping.get(stream);
      if (sleepers === undefined) sleeping.set(stream, (sleepers = new Set()));
      const set = sleepers;
      let woken!: () => void;
      const done = new Promise<void>((resolve) => (woken = resolve));
      const sleeper: Sleeper = { sequence, wake: () => woken() };
      set.add(sleeper);
      partitionSignal.addEventListener('abort', sleeper.wake, { once: true });
      try {
        // Asleep before looking, so a notice that comes while looking is not missed.
        const jsm = await sharedManager(nc);
        const { state } = await api(() => jsm.streams.info(stream));
        if (state.last_seq > sequence) return;
        await done;
      } finally {
        partitionSignal.removeEventListener('abort', sleeper.wake);
        set.delete(sleeper);
        if (set.size === 0 && sleeping.get(stream) === set) sleeping.delete(stream);
      }
    },
    async run() {
      const subscription = nc.subscribe(activitySubject(app), {
        callback: (error, message) => {
          if (error !== null) return;
          try {
            for (const stream of message.json<string[]>()) wake(stream);
          } catch {
            // Not a list of stream names: ignored.
          }
        },
      });
      const stop = (): void => void subscription.unsubscribe();
      if (signal.aborted) stop();
      signal.addEventListener('abort', stop, { once: true });
      const reconnects = (async () => {
        for await (const status of nc.status()) {
          if (signal.aborted) return;
          if (status.type === 'reconnect') await sweep();
        }
      })().catch(() => undefined);
      while (!signal.aborted) {
        await abortableSleep(SweepMs, signal);
        await sweep();
      }
      stop();
      await Promise.race([reconnects, Promise.resolve()]);
    },
  };
};
