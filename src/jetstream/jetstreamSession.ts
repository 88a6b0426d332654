import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { abortableSleep } from '../core/abortableSleep.js';
import type { Position } from '../core/position.js';
import type { ActiveSession } from '../engine/activeSession.js';
import type { Logger } from '../core/logger.js';
import { streamConsumers } from './streamConsumers.js';

export type JetStreamSession = ActiveSession & {
  /** True once the backfill is done and every listed tenant's consumers were found empty after `since`. */
  drainedSince(since: number, tokens: readonly string[]): boolean;
};

/*
 *   backfill — the in-process session reads the store up to the relay's checkpoint at session start
 *              (history the streams may no longer hold, projectors added after the relay ran)
 *   streams  — once every projector has committed through it, the tenant streams take over; what
 *              they redeliver at or before a partition's checkpoint is skipped, so nothing is doubled
 */
export const jetstreamSession = (active: ActiveSession, context: { relayedThrough: Position; nc: NatsConnection; registry: KV; logger: Logger }): JetStreamSession => {
  const consumers = streamConsumers({ nc: context.nc, registry: context.registry, runtimes: active.runtimes(), logger: context.logger });
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
    drainedSince: (since, tokens) => backfilled && consumers.drainedSince(since, tokens),
  };
};
