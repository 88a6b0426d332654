import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { abortableSleep } from '../core/abortableSleep.js';
import { backoffDelay, DefaultBackoff } from '../core/backoff.js';
import { toErrorInfo } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ProjectorRuntime } from '../engine/projectorRuntime.js';
import type { PositionedEvent } from '../postgres/readEventBatch.js';
import { reviveEvent, type StoredEvent } from '../projector/reviveEvent.js';
import { RelayHeaders } from './relaySession.js';
import type { TenantRegistryEntry } from './tenantStreams.js';
import { subjectToken } from './tenantToken.js';

export type StreamConsumers = {
  /** Resolves when stopped; consumption loops run until then. */
  run(): Promise<void>;
  stop(): void;
  /** True when, for every listed tenant token, every projector's loop found its consumer empty after `since`. */
  drainedSince(since: number, tokens: readonly string[]): boolean;
};

const RegistryListingMs = 3000;
/** A message not acked this long is redelivered; a batch commits well within it. */
const AckWaitMs = 30_000;

const toItem = (message: JsMsg): PositionedEvent => ({
  position: { tx: BigInt(message.headers?.get(RelayHeaders.transactionId) ?? '0'), global: BigInt(message.headers?.get(RelayHeaders.globalPosition) ?? '0') },
  event: reviveEvent(message.json<StoredEvent>()),
});

/*
 * For every tenant in the registry (watched, so new tenants start without restart) and every
 * projector: a durable pull consumer named after the projector on the tenant's stream, one batch in
 * flight. A batch goes to the partition's thread through the same partition runner; it is acked after
 * the partition commits through it, so a crash redelivers it and the checkpoint skips what is done.
 */
export const streamConsumers = (context: {
  nc: NatsConnection;
  registry: KV;
  runtimes: ProjectorRuntime[];
  logger: Logger;
}): StreamConsumers => {
  const controller = new AbortController();
  const js = jetstream(context.nc);
  const drained = new Map<string, number>();
  const loops: Promise<void>[] = [];

  const consume = async (runtime: ProjectorRuntime, entry: TenantRegistryEntry, token: string): Promise<void> => {
    const durable = subjectToken(runtime.projector.processorId);
    const loopKey = `${runtime.projector.processorId}\u0000${token}`;
    let fetched: JsMsg[] = [];
    for (let attempt = 1; !controller.signal.aborted; ) {
      try {
        const jsm = await jetstreamManager(context.nc);
        await jsm.consumers.add(entry.stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          max_ack_pending: runtime.projector.batchSize,
          ack_wait: nanos(AckWaitMs),
        });
        const consumer = await js.consumers.get(entry.stream, durable);
        // The checkpoint skips what it covers, so a partition must see its stream in order: only the
        // message right after the last acked one may start a batch. One that arrives early (an older
        // one is still unacked somewhere, e.g. dropped by a failed fetch) is handed back until the
        // older one is redelivered.
        let next = (await jsm.consumers.info(entry.stream, durable)).ack_floor.stream_seq + 1;
        while (!controller.signal.aborted) {
          const started = Date.now();
          fetched = [];
          for await (const message of await consumer.fetch({ max_messages: runtime.projector.batchSize, expires: 1000 })) fetched.push(message);
          if (fetched.length === 0) {
            drained.set(loopKey, started);
            continue;
          }
          const done = fetched.filter((message) => message.info.streamSequence < next);
          done.forEach((message) => message.ack());
          const inOrder: JsMsg[] = [];
          for (const message of fetched) if (message.info.streamSequence === next + inOrder.length) inOrder.push(message);
          fetched.filter((message) => message.info.streamSequence >= next && !inOrder.includes(message)).forEach((message) => message.nak());
          fetched = inOrder;
          if (inOrder.length === 0) {
            await abortableSleep(100, controller.signal);
            continue;
          }
          const committed = await runtime.deliver(entry.tenant, inOrder.map(toItem));
          if (!committed) return;
          for (const message of inOrder) message.ack();
          next += inOrder.length;
          fetched = [];
          attempt = 1;
        }
      } catch (error) {
        fetched.forEach((message) => message.nak());
        fetched = [];
        if (controller.signal.aborted) return;
        context.logger.warn(`${runtime.projector.processorId}/${entry.tenant}: consuming ${entry.stream} failed, retrying: ${toErrorInfo(error).message}`);
        await abortableSleep(backoffDelay(DefaultBackoff, attempt++), controller.signal);
      }
    }
  };

  const started = new Set<string>();
  const follow = (token: string, entry: TenantRegistryEntry): void => {
    if (started.has(token)) return;
    started.add(token);
    for (const runtime of context.runtimes) loops.push(consume(runtime, entry, token));
  };

  // New tenants arrive through the registry watch at once; a listing every few seconds catches any
  // the watch missed while the connection was down, and restarts the watch if it ended.
  const watch = async (): Promise<void> => {
    for (let attempt = 1; !controller.signal.aborted; attempt++) {
      try {
        const watcher = await context.registry.watch();
        const stop = (): void => watcher.stop();
        controller.signal.addEventListener('abort', stop, { once: true });
        for await (const update of watcher) if (update.operation === 'PUT') follow(update.key, update.json<TenantRegistryEntry>());
        controller.signal.removeEventListener('abort', stop);
      } catch (error) {
        if (!controller.signal.aborted) context.logger.warn(`tenant registry watch failed, watching again: ${toErrorInfo(error).message}`);
      }
      await abortableSleep(backoffDelay(DefaultBackoff, attempt), controller.signal);
    }
  };

  const list = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      await abortableSleep(RegistryListingMs, controller.signal);
      try {
        for await (const token of await context.registry.keys()) {
          if (started.has(token)) continue;
          const entry = await context.registry.get(token);
          if (entry !== null) follow(token, entry.json<TenantRegistryEntry>());
        }
      } catch (error) {
        if (!controller.signal.aborted) context.logger.warn(`listing the tenant registry failed: ${toErrorInfo(error).message}`);
      }
    }
  };

  return {
    async run() {
      await Promise.all([watch(), list()]);
      await Promise.all(loops);
    },
    stop: () => controller.abort(),
    drainedSince: (since, tokens) =>
      tokens.every((token) => context.runtimes.every((runtime) => (drained.get(`${runtime.projector.processorId}\u0000${token}`) ?? 0) > since)),
  };
};
