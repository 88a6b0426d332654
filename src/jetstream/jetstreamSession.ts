import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.js';
import type { Position } from '../core/position.js';
import type { ActiveSession } from '../engine/activeSession.js';
import type { Logger } from '../core/logger.js';
import { streamConsumers } from './streamConsumers.js';

export type JetStreamSession = ActiveSession & {
  /** True once the backfill from the store is done and the tenant streams took over. */
  backfilled(): boolean;
};

/*
 *   backfill — the in-process session reads the store up to the relay's checkpoint at session start
 *              (history the streams may no longer hold, projectors added after the relay ran)
 *   streams  — once every projector has committed through it, the tenant streams take over; what
 *              they redeliver at or before a partition's checkpoint is skipped, so nothing is doubled
 */
export const jetstreamSession = (
  active: ActiveSession,
  context: { relayedThrough: Position; nc: NatsConnection; db: pg.Pool; registry: KV; ackWaitMs?: number; logger: Logger },
): JetStreamSession => {
  const consumers = streamConsumers({ ...context, runtimes: active.runtimes() });
  const ended = new AbortController();
  let backfilled = false;
  let consuming: Promise<void> = Promise.resolve();

  const takeOver = async (): Promise<void> => {
    while (!ended.signal.aborted && !active.isCaughtUpTo(context.relayedThrough)) await abortableSleep(50, ended.signal);
    if (ended.signal.aborted) return;
    backfilled = true;
    consuming = consumers.run();
  };

  return {
    ...active,
    async run() {
      const handover = takeOver();
      const reason = await active.run();
      ended.abort();
      consumers.stop();
      await handover;
      return reason;
    },
    abort(reason) {
      active.abort(reason);
    },
    async close() {
      ended.abort();
      consumers.stop();
      await consuming;
      await active.close();
    },
    backfilled: () => backfilled,
  };
};
