import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import type { Position } from '../../src/core/position.ts';
import { partitionConsumption, type PartitionConsumptionState } from '../../src/jetstream/partitionConsumption.ts';
import type { ConsumerState, PartitionStream, StreamMessage } from '../../src/jetstream/partitionStream.ts';
import { consumerBudget, type ConsumerBudget } from '../../src/jetstream/consumerBudget.ts';
import type { PositionedEvent } from '../../src/postgres/readEventBatch.ts';
import { reviveEvent } from '../../src/projector/reviveEvent.ts';
import { waitUntil } from '../support/waitUntil.ts';

// Message `n` of the stream carries the event at position n of the store.
const positionOf = (n: number): Position => ({ tx: BigInt(n), global: BigInt(n) });
const eventAt = (n: number): PositionedEvent => ({
  position: positionOf(n),
  event: reviveEvent({ type: 'ItemAdded', data: { n }, metadata: { globalPosition: n, streamPosition: n } }),
});

type Consumer = { startAfter: number; cursor: number; acked: Set<number>; unacked: Set<number>; nakked: number[]; waiting: number };
type Subscription = { onMessage: (message: StreamMessage) => void; closed: boolean };

/**
 * A stream, its durable consumer and the partition's thread, in memory: the consumer delivers every
 * message past its cursor to the open subscription (except those another client took), redelivers
 * nakked ones, and counts unacked ones; the thread commits what it is given unless told to hold.
 */
const memoryPartition = (setup: {
  last: number;
  /** The first message the stream still holds. @default 1 */
  first?: number;
  /** The consumer as a previous owner left it; none by default. */
  consumer?: { ackFloor: number; unacked?: number[]; acked?: number[]; waiting?: number };
  /** The partition's checkpoint (a store position). */
  checkpoint?: number;
  /** Messages another client took: delivered, never to this partition until `redeliver`. */
  takenElsewhere?: number[];
  /** Commits wait for `commit()`. */
  holdCommits?: boolean;
  /** What every delivery settles with. @default true */
  commits?: boolean;
  /** Times opening the subscription fails first. */
  consumeFailures?: number;
}) => {
  let first = setup.first ?? 1;
  let last = setup.last;
  const log: string[] = [];
  const acks: { sequence: number; copy: number }[] = [];
  const copies = new Map<number, number>();
  const takenElsewhere = new Set(setup.takenElsewhere);
  const fresh = (startAfter: number): Consumer => ({ startAfter, cursor: startAfter, acked: new Set(), unacked: new Set(), nakked: [], waiting: 0 });
  let consumer: Consumer | null = null;
  if (setup.consumer !== undefined) {
    const unacked = setup.consumer.unacked ?? [];
    const acked = setup.consumer.acked ?? [];
    consumer = {
      ...fresh(setup.consumer.ackFloor),
      cursor: Math.max(setup.consumer.ackFloor, ...unacked, ...acked),
      unacked: new Set(unacked),
      acked: new Set(acked),
      waiting: setup.consumer.waiting ?? 0,
    };
  }
  let subscription: Subscription | undefined;
  let consumeFailures = setup.consumeFailures ?? 0;
  const sleepers = new Set<{ past: number; wake: () => void }>();

  // Messages the retention dropped count as acked only once a later one is.
  const ackFloor = (c: Consumer): number => {
    const ackedPastDropped = [...c.acked].some((sequence) => sequence >= first);
    let floor = c.startAfter;
    while (floor < last && (c.acked.has(floor + 1) || (floor + 1 < first && ackedPastDropped))) floor++;
    return floor;
  };
  const stateOf = (c: Consumer): ConsumerState => ({
    ackFloor: ackFloor(c),
    pending: Math.max(0, last - Math.max(c.cursor, first - 1)),
    ackPending: c.unacked.size,
    waiting: c.waiting,
  });

  const send = (to: Subscription, c: Consumer, sequence: number): void => {
    const copy = (copies.get(sequence) ?? 0) + 1;
    copies.set(sequence, copy);
    c.unacked.add(sequence);
    to.onMessage({
      sequence,
      item: () => eventAt(sequence),
      ack: () => {
        acks.push({ sequence, copy });
        log.push(`ack ${sequence}`);
        c.acked.add(sequence);
        c.unacked.delete(sequence);
      },
      nak: () => {
        log.push(`nak ${sequence}`);
        c.nakked.push(sequence);
      },
    });
  };
  // Like the server, delivers asynchronously, in stream order.
  const pump = (): void =>
    void setImmediate(() => {
      const [to, c] = [subscription, consumer];
      if (to === undefined || to.closed || c === null) return;
      for (const sequence of c.nakked.splice(0)) send(to, c, sequence);
      for (let sequence = Math.max(c.cursor + 1, first); sequence <= last; sequence++) {
        c.cursor = sequence;
        if (takenElsewhere.has(sequence)) c.unacked.add(sequence);
        else send(to, c, sequence);
      }
    });

  const stream: PartitionStream = {
    consumer: () => {
      log.push('info');
      return Promise.resolve(consumer === null ? null : stateOf(consumer));
    },
    createConsumer: () => {
      log.push('create');
      consumer = fresh(0);
      return Promise.resolve(stateOf(consumer));
    },
    replaceConsumer: (floor) => {
      log.push(`replace after ${floor}`);
      consumer = fresh(floor);
      return Promise.resolve(stateOf(consumer));
    },
    consume: (onMessage) => {
      log.push('consume');
      if (consumeFailures > 0) {
        consumeFailures--;
        return Promise.reject(new Error('no responders'));
      }
      const opened: Subscription = { onMessage, closed: false };
      let ended!: () => void;
      const closed = new Promise<void>((resolve) => (ended = resolve));
      subscription = opened;
      pump();
      return Promise.resolve({
        close: () => {
          if (!opened.closed) {
            opened.closed = true;
            log.push('close');
            if (subscription === opened) subscription = undefined;
            ended();
          }
          return Promise.resolve();
        },
        closed,
      });
    },
    firstSequence: () => Promise.resolve(first),
    positionAt: (sequence) => Promise.resolve(sequence >= first && sequence <= last ? positionOf(sequence) : null),
  };

  const deliveries: number[][] = [];
  const heldCommits: (() => void)[] = [];
  let checkpoint = setup.checkpoint === undefined ? null : positionOf(setup.checkpoint);
  const deliver = (items: PositionedEvent[]): Promise<boolean> => {
    deliveries.push(items.map((item) => Number(item.position.global)));
    const outcome = setup.commits ?? true;
    return new Promise<boolean>((resolve) => {
      const commit = (): void => {
        if (outcome) checkpoint = items.at(-1)!.position;
        resolve(outcome);
      };
      if (setup.holdCommits) heldCommits.push(commit);
      else setImmediate(commit);
    });
  };

  const backfills: { after: bigint | null; before: bigint }[] = [];
  // The store holds every event; the partition reads it in pages of 40.
  async function* backfill(after: Position | null, before: Position): AsyncGenerator<{ events: PositionedEvent[] }> {
    backfills.push({ after: after?.global ?? null, before: before.global });
    const from = Number(after?.global ?? 0n) + 1;
    for (let n = from; n < before.global; n += 40) {
      await new Promise((resolve) => setImmediate(resolve));
      yield { events: Array.from({ length: Math.min(40, Number(before.global) - n) }, (_, i) => eventAt(n + i)) };
    }
  }

  const waitPast = (past: number, signal: AbortSignal): Promise<void> => {
    log.push(`wait past ${past}`);
    if (last > past || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const sleeper = { past, wake: resolve };
      sleepers.add(sleeper);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  };

  return {
    stream,
    deliver,
    checkpoint: () => checkpoint,
    backfill,
    waitPast,
    log,
    deliveries,
    backfills,
    /** Sequences acked, in the order of the acks. */
    acked: () => acks.map((ack) => ack.sequence),
    acksOf: (sequence: number) => acks.filter((ack) => ack.sequence === sequence).map((ack) => ack.copy),
    nakked: () => log.filter((line) => line.startsWith('nak ')).map((line) => Number(line.slice(4))),
    copiesOf: (sequence: number) => copies.get(sequence) ?? 0,
    isOpen: () => subscription !== undefined,
    ackFloor: () => (consumer === null ? 0 : ackFloor(consumer)),
    /** Delivers message `sequence` again to the open subscription. */
    redeliver: (sequence: number) => {
      const [to, c] = [subscription, consumer];
      if (to !== undefined && c !== null) setImmediate(() => send(to, c, sequence));
    },
    /** The stream stores `count` more messages. */
    append: (count: number) => {
      last += count;
      for (const sleeper of sleepers) if (last > sleeper.past) sleeper.wake();
      pump();
    },
    dropThrough: (sequence: number) => (first = sequence + 1),
    commit: () => heldCommits.splice(0).forEach((commit) => commit()),
    heldCommits: () => heldCommits.length,
  };
};

type Memory = ReturnType<typeof memoryPartition>;

const consume = (memory: Memory, options: { takeOver?: boolean; batchSize?: number; sleepAfterMs?: number; budget?: ConsumerBudget } = {}) => {
  const controller = new AbortController();
  const states: PartitionConsumptionState[] = ['opening'];
  const consumption = partitionConsumption({
    stream: memory.stream,
    deliver: memory.deliver,
    checkpoint: memory.checkpoint,
    backfill: memory.backfill,
    waitPast: memory.waitPast,
    batchSize: options.batchSize ?? 10,
    takeOver: options.takeOver ?? false,
    ...(options.budget === undefined ? {} : { budget: options.budget }),
    signal: controller.signal,
    logger: silentLogger,
    label: 'projector/tenant',
    sleepAfterMs: options.sleepAfterMs ?? 60_000,
    gapCheckMs: 5,
    backoff: { initialMs: 1, maxMs: 2, jitter: 0 },
    onStateChange: (_, to) => states.push(to),
  });
  let ended: 'handedOver' | 'partitionStopped' | undefined;
  const running = consumption.run().then((end) => (ended = end));
  return {
    consumption,
    states,
    running,
    ended: () => ended,
    handOver: async () => {
      controller.abort();
      return running;
    },
  };
};

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('partitionConsumption', () => {
  it('holds messages that arrive before an older one is redelivered, then applies them after it and acks in order', async () => {
    const memory = memoryPartition({ last: 5, takenElsewhere: [2] });
    const partition = consume(memory);
    await waitUntil('message 1 is acked', () => memory.acked().includes(1), 5000, 2);
    await waitUntil('it looks for the missing message', () => partition.states.includes('gap'), 5000, 2);
    expect(memory.deliveries).toEqual([[1]]);

    memory.redeliver(2);
    await waitUntil('every message is acked', () => memory.acked().length === 5, 5000, 2);
    expect(memory.deliveries).toEqual([[1], [2, 3, 4, 5]]);
    expect(memory.acked()).toEqual([1, 2, 3, 4, 5]);
    expect(memory.backfills).toEqual([]);
    expect(await partition.handOver()).toBe('handedOver');
  });

  it('acks the newest copy of a held message that was delivered again while it waited', async () => {
    const memory = memoryPartition({ last: 4, takenElsewhere: [2] });
    const partition = consume(memory);
    await waitUntil('it waits for message 2', () => partition.states.includes('gap'), 5000, 2);
    memory.redeliver(3);
    await waitUntil('message 3 came twice', () => memory.copiesOf(3) === 2, 5000, 2);
    memory.redeliver(2);
    await waitUntil('every message is acked', () => memory.ackFloor() === 4, 5000, 2);
    expect(memory.deliveries).toEqual([[1], [2, 3, 4]]);
    expect(memory.acksOf(3)).toEqual([2]);
    await partition.handOver();
  });

  it('takes over by replacing the consumer with one that starts after its ack floor, so nothing before it comes again', async () => {
    // The previous owner committed and acked 1..4, took 5..7 and never acked them.
    const memory = memoryPartition({ last: 10, consumer: { ackFloor: 4, unacked: [5, 6, 7] }, checkpoint: 4 });
    const partition = consume(memory, { takeOver: true });
    await waitUntil('every message is acked', () => memory.ackFloor() === 10, 5000, 2);
    expect(memory.log.slice(0, 3)).toEqual(['info', 'replace after 4', 'consume']);
    expect(memory.deliveries.flat()).toEqual(range(5, 10));
    expect(memory.acked()).toEqual(range(5, 10));
    await partition.handOver();
  });

  it('takes over a consumer as it is when nothing of it is unacked and no pull waits on it', async () => {
    const memory = memoryPartition({ last: 6, consumer: { ackFloor: 4 }, checkpoint: 4 });
    const partition = consume(memory, { takeOver: true });
    await waitUntil('every message is acked', () => memory.ackFloor() === 6, 5000, 2);
    expect(memory.log.slice(0, 2)).toEqual(['info', 'consume']);
    expect(memory.deliveries).toEqual([[5, 6]]);
    await partition.handOver();
  });

  it('reads what the retention dropped from the event store up to the first message the stream holds, then follows the stream from there', async () => {
    // Committed through 50; while nobody consumed, the stream dropped 51..140.
    const memory = memoryPartition({ first: 141, last: 150, consumer: { ackFloor: 50 }, checkpoint: 50 });
    const partition = consume(memory, { batchSize: 50 });
    await waitUntil('every message is acked', () => memory.ackFloor() === 150, 5000, 2);
    expect(memory.backfills).toEqual([{ after: 50n, before: 141n }]);
    expect(memory.deliveries).toEqual([range(51, 90), range(91, 130), range(131, 140), range(141, 150)]);
    expect(memory.acked()).toEqual(range(141, 150));
    expect(partition.states).toEqual(['opening', 'consuming', 'gap', 'backfilling', 'consuming']);

    memory.append(3);
    await waitUntil('the new messages are acked', () => memory.ackFloor() === 153, 5000, 2);
    expect(memory.deliveries.at(-1)).toEqual([151, 152, 153]);
    expect(memory.backfills).toHaveLength(1);
    await partition.handOver();
  });

  it('reads the dropped messages from the first event on when the partition never committed', async () => {
    const memory = memoryPartition({ first: 31, last: 35 });
    const partition = consume(memory, { batchSize: 50 });
    await waitUntil('every message is acked', () => memory.acked().length === 5, 5000, 2);
    expect(memory.backfills).toEqual([{ after: null, before: 31n }]);
    expect(memory.deliveries.flat()).toEqual(range(1, 35));
    await partition.handOver();
  });

  it('sleeps with no consumer open once nothing came for a while, and wakes to deliver what the stream gets next', async () => {
    const memory = memoryPartition({ last: 3 });
    const sleepAfterMs = 20;
    const partition = consume(memory, { sleepAfterMs });
    await waitUntil('it waits for the stream', () => memory.log.includes('wait past 3'), 5000, 2);
    expect(partition.consumption.state()).toBe('sleeping');
    expect(memory.isOpen()).toBe(false);
    expect(memory.acked()).toEqual([1, 2, 3]);

    // Asleep it asks nothing and opens nothing, however long it sleeps.
    const asked = memory.log.length;
    await new Promise((resolve) => setTimeout(resolve, 5 * sleepAfterMs));
    expect(memory.log.length).toBe(asked);
    expect(partition.consumption.state()).toBe('sleeping');

    memory.append(1);
    await waitUntil('the new message is acked', () => memory.acked().includes(4), 5000, 2);
    expect(memory.deliveries).toEqual([[1, 2, 3], [4]]);
    expect(partition.states.slice(0, 5)).toEqual(['opening', 'consuming', 'sleeping', 'opening', 'consuming']);
    await partition.handOver();
  });

  it('hands over at once while asleep', async () => {
    const memory = memoryPartition({ last: 2 });
    const partition = consume(memory, { sleepAfterMs: 10 });
    await waitUntil('it sleeps', () => memory.log.includes('wait past 2'), 5000, 2);
    expect(await partition.handOver()).toBe('handedOver');
    expect(partition.states.slice(-2)).toEqual(['handingOver', 'stopped']);
    expect(memory.nakked()).toEqual([]);
  });

  it('hands over with a batch in flight: the batch commits and is acked before the loop ends, and the held messages are nakked', async () => {
    const memory = memoryPartition({ last: 5, takenElsewhere: [3], holdCommits: true });
    const partition = consume(memory);
    await waitUntil('a batch is in flight and later messages are held', () => memory.heldCommits() === 1 && partition.states.includes('gap'), 5000, 2);
    expect(memory.deliveries).toEqual([[1, 2]]);

    const handedOver = partition.handOver();
    await waitUntil('the consumer is closed', () => memory.log.includes('close'), 5000, 2);
    expect(partition.ended()).toBeUndefined();
    expect(memory.log.filter((line) => /^(ack|nak)/.test(line))).toEqual([]);

    memory.commit();
    expect(await handedOver).toBe('handedOver');
    expect(memory.log.filter((line) => /^(close|ack|nak)/.test(line))).toEqual(['close', 'ack 1', 'ack 2', 'nak 4', 'nak 5']);
    expect(partition.consumption.state()).toBe('stopped');
    expect(memory.isOpen()).toBe(false);
  });

  it('hands over while batches are in flight and nothing is held: each commits and is acked in order, and nothing is nakked', async () => {
    const memory = memoryPartition({ last: 4, holdCommits: true });
    const partition = consume(memory, { batchSize: 2 });
    await waitUntil('two batches are in flight', () => memory.heldCommits() === 2, 5000, 2);

    const handedOver = partition.handOver();
    await waitUntil('the consumer is closed', () => memory.log.includes('close'), 5000, 2);
    expect(partition.ended()).toBeUndefined();

    memory.commit();
    expect(await handedOver).toBe('handedOver');
    expect(memory.log.filter((line) => /^(close|ack|nak)/.test(line))).toEqual(['close', 'ack 1', 'ack 2', 'ack 3', 'ack 4']);
    expect(partition.states).toEqual(['opening', 'consuming', 'handingOver', 'stopped']);
  });

  it('acks a copy of a committed message without delivering it again, and a copy of one in flight once that commits', async () => {
    const memory = memoryPartition({ last: 3, holdCommits: true });
    const partition = consume(memory);
    await waitUntil('the batch is in flight', () => memory.heldCommits() === 1, 5000, 2);
    memory.redeliver(2);
    await waitUntil('message 2 came again', () => memory.copiesOf(2) === 2, 5000, 2);
    memory.commit();
    await waitUntil('the copy is acked', () => memory.acked().length === 4, 5000, 2);
    expect(memory.acked()).toEqual([1, 2, 3, 2]);

    memory.redeliver(3);
    await waitUntil('the copy of a committed message is acked', () => memory.acked().length === 5, 5000, 2);
    expect(memory.acksOf(3)).toEqual([1, 2]);
    expect(memory.deliveries).toEqual([[1, 2, 3]]);
    await partition.handOver();
  });

  it('stops when a delivery settles false (halted or fenced): nothing is acked, everything it was given is nakked, and it opens nothing again', async () => {
    const memory = memoryPartition({ last: 5, commits: false });
    const partition = consume(memory, { batchSize: 2 });
    expect(await partition.running).toBe('partitionStopped');
    expect(memory.acked()).toEqual([]);
    expect(memory.nakked().sort((a, b) => a - b)).toEqual(range(1, 5));
    expect(memory.log.filter((line) => line === 'consume')).toHaveLength(1);
    expect(partition.states.at(-1)).toBe('stopped');
    expect(memory.isOpen()).toBe(false);
  });

  it('stops when a delivery from the event store settles false', async () => {
    const memory = memoryPartition({ first: 101, last: 102, commits: false });
    const partition = consume(memory);
    expect(await partition.running).toBe('partitionStopped');
    expect(memory.deliveries).toEqual([range(1, 40)]);
    expect(memory.nakked()).toEqual([101, 102]);
  });

  it('opens a consumer anew after its ack floor when an ack was lost and a later one arrived, instead of waiting for a message that will not come again', async () => {
    // This host committed 1..5; the ack of 4 was lost, that of 5 arrived: the floor stays at 3.
    const memory = memoryPartition({ last: 8, consumer: { ackFloor: 3, unacked: [4], acked: [5] }, checkpoint: 5 });
    const partition = consume(memory);
    await waitUntil('every message is acked', () => memory.ackFloor() === 8, 5000, 2);
    expect(memory.log.slice(0, 3)).toEqual(['info', 'replace after 3', 'consume']);
    expect(memory.acked()).toEqual(range(4, 8));
    await partition.handOver();
  });

  it('retries opening the consumer with backoff, then consumes from its ack floor', async () => {
    const memory = memoryPartition({ last: 3, consumeFailures: 2 });
    const partition = consume(memory);
    await waitUntil('every message is acked', () => memory.ackFloor() === 3, 5000, 2);
    expect(partition.states.slice(0, 6)).toEqual(['opening', 'backingOff', 'opening', 'backingOff', 'opening', 'consuming']);
    expect(memory.deliveries).toEqual([[1, 2, 3]]);
    await partition.handOver();
  });

  it('waits for a turn in the host budget, and an open partition with nothing left to do makes room at once instead of after its idle time', async () => {
    const budget = consumerBudget({ maxOpen: 1, maxMessages: 1000 });
    const first = memoryPartition({ last: 5 });
    const second = memoryPartition({ last: 3 });
    const a = consume(first, { budget, sleepAfterMs: 60_000 });
    await waitUntil('the first partition acked its 5 messages', () => first.acked().length === 5);
    const b = consume(second, { budget, sleepAfterMs: 60_000 });
    // The first sleeps (its consumer closed) well before its 60 s idle time, and the second then consumes.
    await waitUntil('the second partition acked its 3 messages', () => second.acked().length === 3, 2000, 5);
    expect(a.consumption.state()).toBe('sleeping');
    expect(first.isOpen()).toBe(false);
    expect(second.deliveries.flat()).toEqual(range(1, 3));
    expect(budget.usage()).toEqual({ open: 1, messages: 0, waiting: 0 });
    // With nobody waiting, the second stays open; new messages of the first wait for the second to make room.
    first.append(2);
    await waitUntil('the first partition acked its 2 new messages', () => first.acked().length === 7, 2000, 5);
    expect(first.deliveries.flat()).toEqual(range(1, 7));
    await a.handOver();
    await b.handOver();
    expect(budget.usage()).toEqual({ open: 0, messages: 0, waiting: 0 });
  });

  it('hands over while waiting for a turn, without opening anything', async () => {
    const budget = consumerBudget({ maxOpen: 1, maxMessages: 1000 });
    const holder = memoryPartition({ last: 2, holdCommits: true });
    const waiter = memoryPartition({ last: 2 });
    const a = consume(holder, { budget });
    await waitUntil('a batch of the holder is in flight', () => holder.heldCommits() > 0);
    const b = consume(waiter, { budget });
    await waitUntil('the second partition waits for a turn', () => budget.usage().waiting === 1);
    expect(await b.handOver()).toBe('handedOver');
    expect(waiter.log).toEqual([]);
    holder.commit();
    await a.handOver();
    expect(budget.usage()).toEqual({ open: 0, messages: 0, waiting: 0 });
  });
});
