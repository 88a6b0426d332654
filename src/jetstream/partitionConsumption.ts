import { abortableSleep } from '../core/abortableSleep.ts';
import { backoffDelay, DefaultBackoff, type ResolvedBackoffOptions } from '../core/backoff.ts';
import { DistributaryError, IllegalTransitionError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Position } from '../core/position.ts';
import { describeFailure } from '../core/isTransientError.ts';
import { wakeable } from '../core/wakeable.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import type { PartitionStream, StreamMessage, StreamSubscription } from './partitionStream.ts';
import { sequenceWindow, type SequenceWindow } from './sequenceWindow.ts';
import { unboundedConsumerBudget, type ConsumerBudget, type ConsumerSlot } from './consumerBudget.ts';

/*
 * One (projector, tenant) partition this host owns, consumed from its stream through the projector's
 * durable consumer: messages arrive as they are stored, batches go to the partition's thread as they
 * come (its scheduler keeps one in flight and the rest in order), and each message is acked on its own,
 * in order, once its batch committed, so a crash redelivers them and the checkpoint skips what is done.
 *
 * Order: the checkpoint skips what it covers, so the partition must see its stream in sequence. Only the
 * message right after the last one handed out starts a batch; one that arrives early (an older one is
 * still out somewhere and comes back after the ack wait) is held until the older one is here. When the
 * stream's retention dropped the older ones, they are read from the event store first.
 *
 *   opening ──> consuming <──> gap <──> backfilling ──> consuming
 *                   │
 *                   └──> sleeping ──> opening
 *   any error ──> backingOff ──> opening
 *   signal aborted ──> handingOver ──> stopped
 *   a delivery settles false (halted, fenced) ──> stopped
 *
 * - opening: waits for a turn in the host's consumer budget (see consumerBudget), then finds the durable
 *   consumer (creates it if missing). A take-over replaces it with one that
 *   starts after its ack floor, unless nothing is delivered and unacked and no pull waits on it: messages
 *   the previous owner took and never acked then come at once instead of after the ack wait, and a
 *   previous owner still running loses its consumer. Then consumes from the ack floor on.
 * - consuming: hands out every batch that is in order; with nothing more for `sleepAfterMs` (only
 *   `ContendedSleepAfterMs` while other partitions wait for a turn), everything committed and acked and
 *   the server holding nothing more for the consumer, goes to sleep.
 * - gap: later messages are held and the next one is missing. Once everything handed out is committed,
 *   looks whether the stream still holds it (then waits for it, looking again every `gapCheckMs`).
 * - backfilling: the stream's retention dropped it: reads the partition's events from the checkpoint up
 *   to the first message the stream holds from the event store, then consumes from that message on.
 * - sleeping: the consumer is closed (no pull, no heartbeat, no timer) until the stream holds messages
 *   past the last one handed out; a message delivered to the closed consumer is had again at once.
 * - backingOff: waits with exponential backoff before opening again.
 * - handingOver: the consumer is closed; what is in flight commits (or is fenced) and is acked; whatever
 *   is held or was not committed is nakked, so whoever consumes next gets it at once.
 * - stopped: the end; nothing open, nothing in flight.
 *
 * Leaving an open consumer behind (for sleeping, backingOff, handingOver, stopped) first closes it,
 * waits for what is in flight, nakks the rest and gives its turn in the budget to the next partition;
 * a sleeping partition keeps nothing of its consumer.
 */

/** A partition that received nothing this long closes its consumer and sleeps until its stream has more. */
export const SleepAfterMs = 5000;
/** While other partitions wait for a consumer slot, how long an open partition with nothing to do waits for more before it sleeps. */
export const ContendedSleepAfterMs = 100;
/** While the next message in order is missing, how often to look whether the stream's retention dropped it. */
export const GapCheckMs = 1000;

export type PartitionConsumptionState = 'opening' | 'consuming' | 'gap' | 'backfilling' | 'sleeping' | 'backingOff' | 'handingOver' | 'stopped';

export type PartitionConsumptionOptions = {
  stream: PartitionStream;
  /** Sends events to the partition's thread; true once committed through the last, false if the partition stopped (halted, fenced). */
  deliver: (items: PositionedEvent[]) => Promise<boolean>;
  /** The partition's last committed position, null before its first commit. */
  checkpoint: () => Position | null;
  /**
   * The partition's events after `after` (its checkpoint; null: from the first event) and before
   * `before`, in delivery order, page by page, from the event store.
   */
  backfill: (after: Position | null, before: Position) => AsyncIterable<{ events: PositionedEvent[] }>;
  /** Resolves once the stream holds messages past `sequence` (at once if it already does), or when `signal` aborts. */
  waitPast: (sequence: number, signal: AbortSignal) => Promise<void>;
  /** Most messages in one delivery. */
  batchSize: number;
  /** A new owner: replace the consumer with one that starts after its ack floor. */
  takeOver: boolean;
  /** The host's bound on open consumers and the messages they hold. @default unbounded */
  budget?: ConsumerBudget;
  /** Aborts to hand the partition over. */
  signal: AbortSignal;
  logger: Logger;
  /** Names the partition in log lines. */
  label: string;
  /** @default SleepAfterMs */
  sleepAfterMs?: number;
  /** @default GapCheckMs */
  gapCheckMs?: number;
  /** @default DefaultBackoff */
  backoff?: ResolvedBackoffOptions;
  /** Told every change of state, after it happened. */
  onStateChange?: (from: PartitionConsumptionState, to: PartitionConsumptionState) => void;
};

export type PartitionConsumption = {
  /** Consumes until handed over or the partition stopped; resolves once nothing is open or in flight. Call once. */
  run(): Promise<'handedOver' | 'partitionStopped'>;
  state(): PartitionConsumptionState;
};

const Transitions: { readonly [From in PartitionConsumptionState]: readonly PartitionConsumptionState[] } = {
  opening: ['consuming', 'backingOff', 'handingOver'],
  consuming: ['gap', 'sleeping', 'backingOff', 'handingOver', 'stopped'],
  gap: ['consuming', 'backfilling', 'backingOff', 'handingOver', 'stopped'],
  backfilling: ['consuming', 'gap', 'backingOff', 'handingOver', 'stopped'],
  sleeping: ['opening', 'backingOff', 'handingOver'],
  backingOff: ['opening', 'handingOver', 'stopped'],
  handingOver: ['stopped'],
  stopped: [],
};

/** What exists while the consumer is open. */
type Open = {
  readonly window: SequenceWindow<StreamMessage>;
  /** This partition's turn in the host's budget, told how many messages the window holds. */
  readonly slot: ConsumerSlot;
  subscription: StreamSubscription | undefined;
  lastArrival: number;
  /** Deliveries ended without being closed here. */
  ended: boolean;
  /** True once every batch handed out so far committed and was acked; false if one did not. */
  settled: Promise<boolean>;
  /** A delivery that rejected. */
  failed: { error: unknown } | undefined;
  released: boolean;
};

type State =
  | { name: 'opening' }
  | { name: 'consuming'; open: Open }
  | { name: 'gap'; open: Open }
  | { name: 'backfilling'; open: Open; resumeAt: number }
  | { name: 'sleeping'; past: number }
  | { name: 'backingOff'; open: Open | undefined }
  | { name: 'handingOver'; open: Open | undefined }
  | { name: 'stopped' };

const openOf = (state: State): Open | undefined => ('open' in state ? state.open : undefined);

const Doing: { readonly [Name in PartitionConsumptionState]: string } = {
  opening: 'opening the consumer',
  consuming: 'consuming',
  gap: 'looking for a missing message',
  backfilling: 'reading what the stream dropped from the event store',
  sleeping: 'waiting for the stream',
  backingOff: 'backing off',
  handingOver: 'handing over',
  stopped: 'stopping',
};

export const partitionConsumption = (options: PartitionConsumptionOptions): PartitionConsumption => {
  const { stream, signal, logger, label, batchSize } = options;
  const sleepAfterMs = options.sleepAfterMs ?? SleepAfterMs;
  const gapCheckMs = options.gapCheckMs ?? GapCheckMs;
  const backoff = options.backoff ?? DefaultBackoff;
  const budget = options.budget ?? unboundedConsumerBudget();
  const arrived = wakeable();
  let state: State = { name: 'opening' };
  let takeOver = options.takeOver;
  let attempt = 1;
  let partitionStopped = false;
  let started = false;

  /** The only way the state changes. */
  const setState = (next: State): void => {
    const from = state.name;
    if (!Transitions[from].includes(next.name)) throw new IllegalTransitionError(`${label}: no transition from ${from} to ${next.name}`);
    state = next;
    options.onStateChange?.(from, next.name);
  };

  /** Closes the consumer, lets what is in flight commit and be acked, and hands the rest back. */
  const release = async (open: Open | undefined): Promise<void> => {
    if (open === undefined || open.released) return;
    open.released = true;
    await open.subscription?.close();
    await open.settled;
    open.window.nakAll();
    open.slot.leave();
  };

  const counted = (open: Open): void => open.slot.holding(open.window.size());

  /** Waits until everything handed out is committed and acked; false when the partition stopped first. */
  const settle = async (open: Open): Promise<boolean> => {
    if (await open.settled) return true;
    if (open.failed !== undefined) throw open.failed.error;
    return false;
  };

  /** Sends a batch on; it is acked once it and every batch before it committed. */
  const handOut = (open: Open, batch: StreamMessage[]): void => {
    // Caught at once: the batch before it may take a while, and a rejection must not go unhandled meanwhile.
    const delivery = options.deliver(batch.map((message) => message.item())).catch((error: unknown) => ({ error }));
    open.settled = open.settled.then(async (inOrder) => {
      if (!inOrder) return false;
      const outcome = await delivery;
      if (outcome === true) {
        open.window.committed(batch);
        counted(open);
        return true;
      }
      if (outcome === false) partitionStopped = true;
      else open.failed = outcome;
      arrived.wake();
      return false;
    });
  };

  const opening = async (): Promise<void> => {
    const slot = await budget.enter(signal, () => arrived.wake());
    if (slot === undefined) return;
    // Handed over while it waited: the next owner opens the consumer.
    if (signal.aborted) return slot.leave();
    try {
      await openWith(slot);
    } catch (error) {
      slot.leave();
      throw error;
    }
  };

  const openWith = async (slot: ConsumerSlot): Promise<void> => {
    const existing = await stream.consumer();
    const consumer =
      existing === null
        ? await stream.createConsumer()
        : // Messages delivered and not acked: on a take-over they are the previous owner's, and on a
          // re-open after an error an ack may have been lost while a later one arrived (the floor then
          // stays before a message that will never come again). Either way the consumer starts anew
          // after its ack floor; the checkpoint skips what is already applied.
          existing.ackPending > 0 || (takeOver && existing.waiting > 0)
          ? await stream.replaceConsumer(existing.ackFloor)
          : existing;
    takeOver = false;
    const open: Open = {
      window: sequenceWindow<StreamMessage>(consumer.ackFloor + 1),
      slot,
      subscription: undefined,
      lastArrival: Date.now(),
      ended: false,
      settled: Promise.resolve(true),
      failed: undefined,
      released: false,
    };
    const subscription = await stream.consume((message) => {
      open.window.arrive(message);
      counted(open);
      open.lastArrival = Date.now();
      arrived.wake();
    });
    open.subscription = subscription;
    void subscription.closed.then(() => {
      open.ended = true;
      arrived.wake();
    });
    setState({ name: 'consuming', open });
  };

  const consuming = async (open: Open): Promise<void> => {
    if (open.failed !== undefined) throw open.failed.error;
    if (open.ended) throw new Error('the consumer closed');
    const batch = open.window.take(batchSize);
    counted(open);
    if (batch.length > 0) {
      handOut(open, batch);
      attempt = 1;
      return;
    }
    if (open.window.waitingForNext()) return setState({ name: 'gap', open });
    const idleMs = Date.now() - open.lastArrival;
    // Others waiting for a turn: make room as soon as there is nothing left to do.
    const quietMs = budget.contended() ? Math.min(sleepAfterMs, ContendedSleepAfterMs) : sleepAfterMs;
    if (idleMs < quietMs) return arrived.wait(quietMs - idleMs, signal);
    // Nothing for a while: once everything handed out is committed and acked, and the server has
    // nothing more for this consumer, sleep.
    if (!(await settle(open)) || !open.window.empty()) return;
    const now = await stream.consumer();
    if (now === null) throw new Error('the consumer is gone');
    if (now.pending > 0 || now.ackPending > 0) {
      open.lastArrival = Date.now();
      return;
    }
    // Asleep, the partition keeps nothing of its consumer.
    await release(open);
    setState({ name: 'sleeping', past: open.window.next() - 1 });
  };

  const gap = async (open: Open): Promise<void> => {
    if (!(await settle(open)) || signal.aborted) return;
    const first = await stream.firstSequence();
    if (first > open.window.next()) return setState({ name: 'backfilling', open, resumeAt: first });
    // Still in the stream: another pull took it or it waits out its ack wait, and comes back.
    await arrived.wait(gapCheckMs, signal);
    setState({ name: 'consuming', open });
  };

  const backfilling = async (open: Open, resumeAt: number): Promise<void> => {
    const before = await stream.positionAt(resumeAt);
    if (before === null) {
      // Dropped meanwhile too: look again where the stream starts now.
      await arrived.wait(gapCheckMs, signal);
      return setState({ name: 'gap', open });
    }
    logger.warn(`${label}: the stream no longer holds messages ${open.window.next()}..${resumeAt - 1}; reading them from the event store`);
    for await (const { events } of options.backfill(options.checkpoint(), before)) {
      // Handed over while the page was read: the next owner reads it.
      if (signal.aborted) return;
      if (events.length > 0 && !(await options.deliver(events))) {
        partitionStopped = true;
        return;
      }
      // Handing over: what was read so far is committed, the next owner reads the rest.
      if (signal.aborted) return;
    }
    open.window.resumeAt(resumeAt);
    setState({ name: 'consuming', open });
  };

  const sleeping = async (past: number): Promise<void> => {
    // A message stored just before the consumer closed may have gone to it: have it again at once.
    const consumer = await stream.consumer();
    if (consumer !== null && consumer.ackPending > 0) takeOver = true;
    else if (consumer !== null) await options.waitPast(past, signal);
    if (!signal.aborted) setState({ name: 'opening' });
  };

  const backingOff = async (open: Open | undefined): Promise<void> => {
    await release(open);
    if (partitionStopped) return;
    await abortableSleep(backoffDelay(backoff, attempt++), signal);
    if (!signal.aborted) setState({ name: 'opening' });
  };

  const handingOver = async (open: Open | undefined): Promise<void> => {
    await release(open);
    setState({ name: 'stopped' });
  };

  const step = (current: State): Promise<void> => {
    switch (current.name) {
      case 'opening':
        return opening();
      case 'consuming':
        return consuming(current.open);
      case 'gap':
        return gap(current.open);
      case 'backfilling':
        return backfilling(current.open, current.resumeAt);
      case 'sleeping':
        return sleeping(current.past);
      case 'backingOff':
        return backingOff(current.open);
      case 'handingOver':
        return handingOver(current.open);
      case 'stopped':
        return Promise.resolve();
    }
  };

  // Handing over stops the deliveries at once, and ends any wait.
  const onAbort = (): void => {
    void openOf(state)?.subscription?.close();
    arrived.wake();
  };

  return {
    async run() {
      if (started) throw new DistributaryError(`${label}: partitionConsumption.run() was called twice`);
      started = true;
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        while (state.name !== 'stopped') {
          if (state.name !== 'handingOver' && signal.aborted) setState({ name: 'handingOver', open: openOf(state) });
          else if (state.name !== 'handingOver' && partitionStopped) {
            await release(openOf(state));
            setState({ name: 'stopped' });
            break;
          }
          try {
            await step(state);
          } catch (error) {
            if (state.name === 'handingOver' || error instanceof IllegalTransitionError) throw error;
            if (signal.aborted) continue;
            logger.warn(`${label}: ${Doing[state.name]} failed, retrying: ${describeFailure(error)}`);
            setState({ name: 'backingOff', open: openOf(state) });
          }
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        await release(openOf(state));
      }
      return partitionStopped ? 'partitionStopped' : 'handedOver';
    },
    state: () => state.name,
  };
};
