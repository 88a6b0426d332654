import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerConfig, type ConsumerInfo, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.ts';
import { backoffDelay, DefaultBackoff } from '../core/backoff.ts';
import { toErrorInfo } from '../core/errors.ts';
import type { Limiter } from '../core/limiter.ts';
import type { Logger } from '../core/logger.ts';
import { BeforeFirstPosition, type Position } from '../core/position.ts';
import { wakeable } from '../core/wakeable.ts';
import type { ProjectorRuntime } from '../engine/projectorRuntime.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import { readPartitionRange } from '../postgres/readPartitionRange.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { reviveEvent, type StoredEvent } from '../projector/reviveEvent.ts';
import { RelayHeaders } from './relaySession.ts';
import type { TenantRegistryEntry } from './tenantStreams.ts';
import type { StreamActivity } from './streamActivity.ts';
import { subjectToken } from './tenantToken.ts';

/** How often the whole registry is listed, for tenants the watch missed (also after every reconnect). */
const RegistryListingMs = 30_000;
/** A partition that received nothing this long closes its consumer loop and sleeps until its stream has more. */
export const SleepAfterMs = 5000;
/** While the next message in order is missing, how often to look whether the stream's retention dropped it. */
const GapCheckMs = 1000;
/** A message not acked this long is redelivered; a batch commits well within it. */
export const DefaultAckWaitMs = 60_000;

/** The durable pull consumer of one projector on a tenant stream. */
export const consumerConfig = (projector: Pick<AnyPartitionedProjector, 'processorId' | 'batchSize'>, ackWaitMs = DefaultAckWaitMs): Partial<ConsumerConfig> & { durable_name: string } => ({
  durable_name: subjectToken(projector.processorId),
  // Every message is acked on its own: with redeliveries, delivery order is not stream order, and an
  // ack-all of one delivery would also ack later messages delivered before it and not yet committed.
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  // One batch in flight and the next one already here.
  max_ack_pending: projector.batchSize * 2,
  ack_wait: nanos(ackWaitMs),
});

const positionOf = (headers: { get(name: string): string } | undefined): Position => ({
  tx: BigInt(headers?.get(RelayHeaders.transactionId) || '0'),
  global: BigInt(headers?.get(RelayHeaders.globalPosition) || '0'),
});

/**
 * The last message acked in order. A consumer made to start at some sequence (by a take-over) may
 * report a floor of 0 until its first ack; everything before its start was committed and acked.
 */
const ackFloor = (info: ConsumerInfo): number => Math.max(info.ack_floor.stream_seq, (info.config.opt_start_seq ?? 1) - 1);

const tryNak = (message: JsMsg): void => {
  try {
    message.nak();
  } catch {
    // The connection is gone; the server redelivers after the ack wait.
  }
};

/**
 * A relayed message as the partition runner takes it. The payload carries the event's position too
 * (the relay writes its transaction id next to the event), which spares decoding the headers of every
 * message; messages without it take the position from the headers.
 */
const toItem = (message: JsMsg): PositionedEvent => {
  const stored = message.json<StoredEvent & { transactionId?: string }>();
  const event = reviveEvent(stored);
  const position = stored.transactionId === undefined ? positionOf(message.headers) : { tx: BigInt(stored.transactionId), global: event.metadata.globalPosition };
  return { position, event };
};

/*
 * One (projector, tenant) partition this host owns: the durable pull consumer named after the
 * projector on the tenant's stream, consumed continuously (messages arrive as they are stored, no
 * waiting for a full batch). Batches go to the partition's thread as they come (its scheduler keeps
 * one in flight and the rest in order) and are acked in order once committed, so a crash redelivers
 * them and the checkpoint skips what is done.
 *
 * Order: the checkpoint skips what it covers, so a partition must see its stream in sequence. Only
 * the message right after the last acked one starts a batch; one that arrives early (an older one is
 * still out somewhere and comes back after the ack wait) is held until the older one is here. When
 * the stream's retention dropped the older ones, the partition reads them from the event store first.
 *
 * A partition that received nothing for `SleepAfterMs` closes its consumer loop (no pull, no
 * heartbeat, no timer) and sleeps until its stream holds more (see `streamActivity`).
 *
 * A new owner (`takeOver`) replaces the consumer with one that starts after its ack floor: messages
 * the previous owner took and never acked are then delivered at once instead of after the ack wait,
 * and a previous owner that is still running loses its consumer.
 */
export const consumePartition = async (context: {
  nc: NatsConnection;
  db: pg.Pool;
  runtime: ProjectorRuntime;
  entry: TenantRegistryEntry;
  ackWaitMs?: number;
  logger: Logger;
  signal: AbortSignal;
  takeOver: boolean;
  activity: StreamActivity;
  /** Bounds the JetStream API requests of all partitions of a host: thousands starting at once would time out. */
  api: Limiter;
}): Promise<void> => {
  const { runtime, entry, signal } = context;
  const js = jetstream(context.nc);
  // A partition handed over while its request waited for a turn must not touch the consumer any more.
  const api = <T>(request: () => Promise<T>): Promise<T> =>
    context.api(() => (signal.aborted ? Promise.reject(new Error(`${entry.stream}: stopped before its turn`)) : request()));
  let takeOver = context.takeOver;

  /**
   * When the stream's retention dropped messages from `next` on, applies the partition's events up to
   * the first one the stream still holds from the event store; says where the stream resumes.
   */
  const fillFromStore = async (jsm: JetStreamManager, next: number): Promise<{ resumeAt: number } | 'not-dropped' | 'stopped'> => {
    const { state } = await jsm.streams.info(entry.stream);
    if (state.first_seq <= next) return 'not-dropped';
    const first = await jsm.streams.getMessage(entry.stream, { seq: state.first_seq });
    if (first === null) return 'not-dropped';
    const before = positionOf(first.header);
    context.logger.warn(
      `${runtime.projector.processorId}/${entry.tenant}: ${entry.stream} no longer holds messages ${next}..${state.first_seq - 1}; reading them from the event store`,
    );
    const after = runtime.checkpoint(entry.tenant) ?? BeforeFirstPosition;
    for await (const page of readPartitionRange(context.db, { partitionBy: runtime.projector.partitionBy, partition: entry.tenant, after, before })) {
      if (page.events.length > 0 && !(await runtime.deliver(entry.tenant, page.events))) return 'stopped';
    }
    return { resumeAt: state.first_seq };
  };

  /** The consumer to read from, replaced by one starting after the ack floor on a take-over. */
  const openConsumer = async (jsm: JetStreamManager, config: ReturnType<typeof consumerConfig>): Promise<ConsumerInfo> => {
    // Coming back after an error: the consumer as it is (a take-over may have made it start later).
    if (!takeOver) return (await jsm.consumers.info(entry.stream, config.durable_name).catch(() => undefined)) ?? jsm.consumers.add(entry.stream, config);
    const previous = await jsm.consumers.info(entry.stream, config.durable_name).catch(() => undefined);
    if (previous === undefined) return jsm.consumers.add(entry.stream, config);
    // Nothing delivered and unacked, and no pull of another client waiting on it: it can be used as it is.
    if (previous.num_ack_pending === 0 && previous.num_waiting === 0) {
      takeOver = false;
      return previous;
    }
    await jsm.consumers.delete(entry.stream, config.durable_name).catch(() => undefined);
    const floor = ackFloor(previous);
    const info = await jsm.consumers.add(entry.stream, floor === 0 ? config : { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 });
    takeOver = false;
    return info;
  };

  {
    const config = consumerConfig(runtime.projector, context.ackWaitMs);
    const { batchSize } = runtime.projector;
    for (let attempt = 1, sleepPast: number | undefined; !signal.aborted; ) {
      if (sleepPast !== undefined) {
        const past = sleepPast;
        sleepPast = undefined;
        try {
          // A message stored just before the loop closed may have gone to it: have it again at once.
          const jsm = await jetstreamManager(context.nc, { checkAPI: false });
          if ((await api(() => jsm.consumers.info(entry.stream, config.durable_name))).num_ack_pending > 0) takeOver = true;
          else await context.activity.waitPast(entry.stream, past, signal, api);
        } catch (error) {
          if (signal.aborted) return;
          context.logger.warn(`${runtime.projector.processorId}/${entry.tenant}: waiting for ${entry.stream} failed: ${toErrorInfo(error).message}`);
        }
        continue;
      }
      let messages: ConsumerMessages | undefined;
      const held = new Map<number, JsMsg>();
      const arrived = wakeable();
      let acked: Promise<boolean> = Promise.resolve(true);
      const inFlight = new Set<JsMsg>();
      let lateCopies: JsMsg[] = [];
      let partitionStopped = false;
      const closeOnAbort = (): void => {
        void messages?.close();
        arrived.wake();
      };
      try {
        const jsm = await jetstreamManager(context.nc, { checkAPI: false });
        const info = await api(() => openConsumer(jsm, config));
        let next = ackFloor(info) + 1;
        const consumer = js.consumers.getConsumerFromInfo(info);
        let closed = false;
        let lastArrival = Date.now();
        messages = await consumer.consume({
          max_messages: batchSize * 2,
          callback: (message) => {
            // A redelivered copy replaces the one held, so the ack goes to the newest delivery.
            held.set(message.info.streamSequence, message);
            lastArrival = Date.now();
            arrived.wake();
          },
        });
        void messages.closed().then(() => {
          closed = true;
          arrived.wake();
        });
        signal.addEventListener('abort', closeOnAbort, { once: true });
        // Batches are handed to the partition's thread as they come (its scheduler keeps one in flight
        // and the rest in order) and acked in order once committed; `committed` trails `next`.
        let committed = next - 1;
        while (!signal.aborted && !closed && !partitionStopped) {
          for (const [sequence, message] of held) {
            if (sequence >= next) continue;
            held.delete(sequence);
            // A copy of what is committed is acked again; a copy of what is still in flight is acked
            // once that commits (an ack covers earlier deliveries, not a later copy).
            if (sequence <= committed) message.ack();
            else lateCopies.push(message);
          }
          const batch: JsMsg[] = [];
          for (let sequence = next; batch.length < batchSize && held.has(sequence); sequence++) batch.push(held.get(sequence)!);
          if (batch.length === 0) {
            if (held.size > 0) {
              if (!(await acked)) return;
              const filled = await fillFromStore(jsm, next);
              if (filled === 'stopped') return;
              if (filled === 'not-dropped') await arrived.wait(GapCheckMs);
              else {
                next = filled.resumeAt;
                committed = next - 1;
              }
            } else if (Date.now() - lastArrival < SleepAfterMs) await arrived.wait(SleepAfterMs - (Date.now() - lastArrival));
            else {
              // Nothing for a while: once everything handed over is committed and acked, and the server
              // has nothing more for this consumer, sleep.
              if (!(await acked)) return;
              if (held.size > 0 || inFlight.size > 0) continue;
              const now = await api(() => jsm.consumers.info(entry.stream, config.durable_name));
              if (now.num_pending > 0 || now.num_ack_pending > 0) {
                lastArrival = Date.now();
                continue;
              }
              sleepPast = next - 1;
              break;
            }
            continue;
          }
          for (const message of batch) {
            held.delete(message.info.streamSequence);
            inFlight.add(message);
          }
          next += batch.length;
          const delivery = runtime.deliver(entry.tenant, batch.map(toItem));
          const last = batch.at(-1)!;
          acked = acked.then(async (inOrder) => {
            if (!inOrder || !(await delivery)) {
              partitionStopped = true;
              arrived.wake();
              return false;
            }
            for (const message of batch) {
              message.ack();
              inFlight.delete(message);
            }
            committed = last.info.streamSequence;
            lateCopies = lateCopies.filter((copy) => {
              if (copy.info.streamSequence > committed) return true;
              copy.ack();
              return false;
            });
            return true;
          });
          attempt = 1;
        }
        if (partitionStopped) return;
        if (sleepPast !== undefined || signal.aborted) continue;
        throw new Error('the consumer closed');
      } catch (error) {
        if (signal.aborted) return;
        context.logger.warn(`${runtime.projector.processorId}/${entry.tenant}: consuming ${entry.stream} failed, retrying: ${toErrorInfo(error).message}`);
        await abortableSleep(backoffDelay(DefaultBackoff, attempt++), signal);
      } finally {
        signal.removeEventListener('abort', closeOnAbort);
        await messages?.close()?.catch(() => undefined);
        // Handing the partition over: what is in flight commits (or is fenced) and is acked first.
        if (signal.aborted || partitionStopped) await acked;
        // What is held or was not committed would come back only after the ack wait; hand it back now,
        // so whoever consumes next (this host again, or the next owner) gets it at once.
        for (const message of [...inFlight, ...lateCopies, ...held.values()]) tryNak(message);
      }
    }
  }
};

/**
 * Calls `onTenant` for every tenant in the registry and every tenant added later, until `signal`
 * aborts: the watch sees new tenants at once; a listing every few seconds catches any the watch
 * missed while the connection was down, and restarts the watch if it ended.
 */
export const followTenantRegistry = async (registry: KV, onTenant: (entry: TenantRegistryEntry) => void, signal: AbortSignal, logger: Logger): Promise<void> => {
  const seen = new Set<string>();
  const follow = (token: string, entry: TenantRegistryEntry): void => {
    if (seen.has(token)) return;
    seen.add(token);
    onTenant(entry);
  };
  const watch = async (): Promise<void> => {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const watcher = await registry.watch();
        const stop = (): void => watcher.stop();
        // Stopped while the watch was being set up: the abort event has already fired.
        if (signal.aborted) stop();
        signal.addEventListener('abort', stop, { once: true });
        for await (const update of watcher) if (update.operation === 'PUT') follow(update.key, update.json<TenantRegistryEntry>());
        signal.removeEventListener('abort', stop);
      } catch (error) {
        if (!signal.aborted) logger.warn(`tenant registry watch failed, watching again: ${toErrorInfo(error).message}`);
      }
      await abortableSleep(backoffDelay(DefaultBackoff, attempt), signal);
    }
  };
  const list = async (): Promise<void> => {
    while (!signal.aborted) {
      await abortableSleep(RegistryListingMs, signal);
      try {
        for await (const token of await registry.keys()) {
          if (seen.has(token)) continue;
          const entry = await registry.get(token);
          if (entry !== null && entry.operation === 'PUT') follow(token, entry.json<TenantRegistryEntry>());
        }
      } catch (error) {
        if (!signal.aborted) logger.warn(`listing the tenant registry failed: ${toErrorInfo(error).message}`);
      }
    }
  };
  await Promise.all([watch(), list()]);
};
