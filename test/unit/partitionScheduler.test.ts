import { describe, expect, it } from 'vitest';
import { partitionScheduler, SlowTransactionMs, type CommitOutcome, type FailurePolicy, type PartitionReport } from '../../src/core/partitionScheduler.ts';

type Ev = { position: bigint; bad?: boolean };
const backoff = { initialMs: 1, maxMs: 2, jitter: 0 };
class Outage extends Error {}

const harness = (
  options: {
    concurrency?: number;
    batchSize?: number;
    retries?: number;
    fenceAt?: bigint;
    then?: FailurePolicy;
    outages?: number;
    groupPartitions?: number;
    /** Partitions whose transactions take longer than a slow one. */
    slow?: string[];
  } = {},
) => {
  const applied: { partition: string; positions: bigint[] }[] = [];
  const deadLetters: { partition: string; position: bigint; message: string; attempts: number; policy: FailurePolicy }[] = [];
  const reports: PartitionReport<bigint>[] = [];
  let attempts = 0;
  let outages = options.outages ?? 0;
  let running = 0;
  let maxRunning = 0;
  const groups: string[][] = [];
  const warnings: string[] = [];
  const took = (partitions: string[]): number => (partitions.some((key) => options.slow?.includes(key)) ? SlowTransactionMs + 20 : 1);
  const scheduler = partitionScheduler<Ev, bigint>({
    concurrency: options.concurrency ?? 2,
    batchSize: options.batchSize ?? 3,
    retries: options.retries ?? 1,
    backoff,
    then: options.then ?? 'skip',
    isTransient: (error) => error instanceof Outage,
    apply: async (partition, checkpoint, events): Promise<CommitOutcome<bigint>> => {
      attempts++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, took([partition])));
      running--;
      if (outages > 0) {
        outages--;
        throw new Outage('database away');
      }
      if (events.some((e) => e.bad)) throw new Error(`bad event in ${partition}`);
      const last = events.at(-1)!.position;
      if (options.fenceAt !== undefined && last >= options.fenceAt) return { ok: false, reason: 'CURRENT_AHEAD' };
      applied.push({ partition, positions: events.filter((e) => checkpoint === null || e.position > checkpoint).map((e) => e.position) });
      return { ok: true, checkpoint: last, applied: events.length };
    },
    skip: (partition, _checkpoint, event, error, attempts) => {
      deadLetters.push({ partition, position: event.position, message: error.message, attempts, policy: 'skip' });
      return Promise.resolve({ ok: true, checkpoint: event.position, applied: 0 });
    },
    halt: (partition, event, error, attempts) => {
      deadLetters.push({ partition, position: event.position, message: error.message, attempts, policy: 'halt' });
      return Promise.resolve();
    },
    report: (report) => reports.push(report),
    groupPartitions: options.groupPartitions,
    warn: (message) => warnings.push(message),
    // One transaction for all: it commits every batch or none (a bad event throws, a fenced partition undoes it).
    applyGroup:
      options.groupPartitions === undefined
        ? undefined
        : async (batches): Promise<CommitOutcome<bigint>[] | undefined> => {
            groups.push(batches.map((b) => b.partition));
            running++;
            maxRunning = Math.max(maxRunning, running);
            await new Promise((resolve) => setTimeout(resolve, took(batches.map((b) => b.partition))));
            running--;
            if (batches.some((b) => b.events.some((e) => e.bad))) throw new Error('bad event in the group');
            if (options.fenceAt !== undefined && batches.some((b) => b.events.at(-1)!.position >= options.fenceAt!)) return undefined;
            for (const b of batches) applied.push({ partition: b.partition, positions: b.events.map((e) => e.position) });
            return batches.map((b) => ({ ok: true, checkpoint: b.events.at(-1)!.position, applied: b.events.length }));
          },
  });
  const settled = async (): Promise<void> => {
    // Enqueued events are dispatched once the caller's synchronous work is done.
    await new Promise((resolve) => setImmediate(resolve));
    const quiet = (): boolean => scheduler.inFlight() === 0 && !['retrying', 'ready', 'running'].includes(reports.at(-1)?.state ?? 'idle');
    for (let i = 0; i < 1000 && !quiet(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const positionsOf = (partition: string) => applied.filter((a) => a.partition === partition).flatMap((a) => a.positions);
  return { scheduler, applied, deadLetters, reports, groups, warnings, settled, positionsOf, attempts: () => attempts, maxRunning: () => maxRunning };
};

const events = (...positions: number[]): Ev[] => positions.map((p) => ({ position: BigInt(p) }));
const withBadAt = (count: number, bad: number): Ev[] => Array.from({ length: count }, (_, i) => ({ position: BigInt(i + 1), bad: i + 1 === bad }));

describe('partitionScheduler', () => {
  it('applies each partition in order, in batches, at most one batch per partition and `concurrency` in all', async () => {
    const h = harness({ concurrency: 2, batchSize: 2 });
    h.scheduler.enqueue('a', events(1, 3, 5, 7));
    h.scheduler.enqueue('b', events(2, 4));
    h.scheduler.enqueue('c', events(6));
    await h.settled();
    expect(h.positionsOf('a')).toEqual([1n, 3n, 5n, 7n]);
    expect(h.positionsOf('b')).toEqual([2n, 4n]);
    expect(h.positionsOf('c')).toEqual([6n]);
    expect(h.applied.every((a) => a.positions.length <= 2)).toBe(true);
    expect(h.maxRunning()).toBe(2);
  });

  it('bisects a failing batch of 500: the 499 others apply in order and the bad event is found in a few attempts', async () => {
    const h = harness({ batchSize: 500, retries: 2, then: 'skip' });
    h.scheduler.enqueue('a', withBadAt(500, 317), null);
    await h.settled();
    expect(h.positionsOf('a')).toEqual(Array.from({ length: 500 }, (_, i) => BigInt(i + 1)).filter((p) => p !== 317n));
    expect(h.deadLetters).toEqual([{ partition: 'a', position: 317n, message: 'bad event in a', attempts: expect.any(Number) as number, policy: 'skip' }]);
    expect(h.attempts()).toBeLessThan(3 + 2 * Math.ceil(Math.log2(500)) + 2);
    expect(h.reports.at(-1)).toMatchObject({ partition: 'a', checkpoint: 500n, state: 'idle' });
  });

  it('halts a partition in front of the failing event under `halt`, while others go on', async () => {
    const h = harness({ batchSize: 10, retries: 1, then: 'halt' });
    h.scheduler.enqueue('a', withBadAt(10, 4));
    h.scheduler.enqueue('b', events(20, 21));
    await h.settled();
    h.scheduler.enqueue('a', events(30));
    await h.settled();
    expect(h.positionsOf('a')).toEqual([1n, 2n, 3n]);
    expect(h.positionsOf('b')).toEqual([20n, 21n]);
    expect(h.deadLetters.map((d) => [d.partition, d.position, d.policy])).toEqual([['a', 4n, 'halt']]);
    expect(h.reports.filter((r) => r.partition === 'a').at(-1)).toMatchObject({ state: 'halted', checkpoint: 3n, deadLettered: 1 });
  });

  it('retries through an outage without counting attempts or dead-lettering anything', async () => {
    const h = harness({ batchSize: 5, retries: 1, outages: 6 });
    h.scheduler.enqueue('a', events(1, 2, 3));
    await h.settled();
    expect(h.positionsOf('a')).toEqual([1n, 2n, 3n]);
    expect(h.deadLetters).toEqual([]);
  });

  it('stops a partition whose commit is fenced and reports it, while others go on', async () => {
    const h = harness({ batchSize: 1, fenceAt: 3n });
    h.scheduler.enqueue('a', events(1, 3, 5));
    h.scheduler.enqueue('b', events(2));
    await h.settled();
    h.scheduler.enqueue('a', events(9));
    await h.settled();
    expect(h.positionsOf('a')).toEqual([1n]);
    expect(h.positionsOf('b')).toEqual([2n]);
    expect(h.reports.filter((r) => r.partition === 'a').at(-1)).toMatchObject({ state: 'fenced', checkpoint: 1n });
  });

  it('dispatches two backlogged partitions in proportion to their weights, 3 to 1', async () => {
    const h = harness({ concurrency: 1, batchSize: 10 });
    h.scheduler.setWeight('heavy', 3);
    h.scheduler.enqueue('heavy', events(...Array.from({ length: 600 }, (_, i) => i + 1)));
    h.scheduler.enqueue('light', events(...Array.from({ length: 600 }, (_, i) => 1001 + i)));
    await h.settled();
    // While both were backlogged (the first 40 batches), heavy got three of every four.
    const first = h.applied.slice(0, 40).filter((batch) => batch.partition === 'heavy').length;
    expect(Math.abs(first - 30)).toBeLessThanOrEqual(3);
    expect(h.positionsOf('heavy')).toHaveLength(600);
    expect(h.positionsOf('light')).toHaveLength(600);
    expect(h.scheduler.snapshot().map((p) => [p.partition, p.weight, p.dispatched, p.dispatchedEvents, p.queued])).toEqual([
      ['heavy', 3, 60, 600, 0],
      ['light', 1, 60, 600, 0],
    ]);
    // What a host stores every couple of seconds: only partitions worth a look (here, the weighted one).
    expect(h.scheduler.snapshot({ notable: true }).map((p) => p.partition)).toEqual(['heavy']);
  });

  it('lets a partition that just became active go before a flooded one’s backlog', async () => {
    const h = harness({ concurrency: 1, batchSize: 10 });
    h.scheduler.enqueue('flood', events(...Array.from({ length: 1000 }, (_, i) => i + 1)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const floodBatchesBefore = h.applied.length;
    for (let i = 0; i < 10; i++) h.scheduler.enqueue(`quiet-${i}`, events(5000 + i));
    await h.settled();
    const quietAt = h.applied.map((batch, index) => (batch.partition.startsWith('quiet') ? index : -1)).filter((index) => index >= 0);
    expect(quietAt).toHaveLength(10);
    expect(floodBatchesBefore).toBeLessThan(90);
    // The quiet partitions waited for the flood batch in flight (and one more at most), not for the flood's backlog.
    expect(Math.max(...quietAt)).toBeLessThan(floodBatchesBefore + 10 + 3);
  });

  it('refuses a weight that is not a positive number', () => {
    expect(() => harness().scheduler.setWeight('a', 0)).toThrow('a partition weight must be a positive number, got 0');
  });

  describe('with groups', () => {
    it('commits partitions that have a few events each in one transaction, at most a batch of events and `groupPartitions` partitions', async () => {
      const h = harness({ concurrency: 1, batchSize: 4, groupPartitions: 3 });
      h.scheduler.enqueue('a', events(1));
      h.scheduler.enqueue('b', events(2, 3));
      h.scheduler.enqueue('c', events(4));
      h.scheduler.enqueue('d', events(5));
      h.scheduler.enqueue('e', events(6, 7, 8, 9));
      await h.settled();
      // a, b and c fill a batch (4 events); d and e together would make 5, so each goes alone.
      expect(h.groups).toEqual([['a', 'b', 'c']]);
      expect(h.applied.map((batch) => batch.partition)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(['a', 'b', 'c', 'd', 'e'].map((key) => h.positionsOf(key))).toEqual([[1n], [2n, 3n], [4n], [5n], [6n, 7n, 8n, 9n]]);
      expect(h.reports.filter((r) => r.state === 'idle').map((r) => [r.partition, r.checkpoint, r.applied])).toEqual([
        ['a', 1n, 1],
        ['b', 3n, 2],
        ['c', 4n, 1],
        ['d', 5n, 1],
        ['e', 9n, 4],
      ]);
    });

    it('runs a group that throws one partition at a time: the others commit, the bad event is dead-lettered alone', async () => {
      const h = harness({ concurrency: 1, batchSize: 10, retries: 1, groupPartitions: 8 });
      h.scheduler.enqueue('a', events(1, 2));
      h.scheduler.enqueue('b', withBadAt(3, 2).map((e) => ({ ...e, position: e.position + 10n })));
      h.scheduler.enqueue('c', events(30));
      await h.settled();
      expect(h.positionsOf('a')).toEqual([1n, 2n]);
      expect(h.positionsOf('c')).toEqual([30n]);
      expect(h.positionsOf('b')).toEqual([11n, 13n]);
      expect(h.deadLetters.map((d) => [d.partition, d.position])).toEqual([['b', 12n]]);
      // The failed group was the only one with b in it: while it retried and bisected it ran alone.
      expect(h.groups.filter((group) => group.includes('b'))).toEqual([['a', 'b', 'c']]);
      expect(h.warnings).toEqual(['1 group(s) of partitions did not commit together since the last warning; their partitions run alone. Last: a, b, c: bad event in the group']);
      // Reported once, on the group's first partition, for the metrics.
      expect(h.reports.filter((r) => r.groupFailed === true).map((r) => [r.partition, r.applied])).toEqual([['a', 0]]);
    });

    it('runs a group one partition at a time when a checkpoint does not move: the fenced partition stops, the others commit', async () => {
      const h = harness({ concurrency: 1, batchSize: 10, fenceAt: 50n, groupPartitions: 8 });
      h.scheduler.enqueue('a', events(1));
      h.scheduler.enqueue('fenced', events(60));
      h.scheduler.enqueue('c', events(3));
      await h.settled();
      expect(h.groups).toEqual([['a', 'fenced', 'c']]);
      expect(h.positionsOf('a')).toEqual([1n]);
      expect(h.positionsOf('c')).toEqual([3n]);
      expect(h.positionsOf('fenced')).toEqual([]);
      expect(h.reports.filter((r) => r.partition === 'fenced').at(-1)).toMatchObject({ state: 'fenced' });
    });

    it('lets a partition whose transaction was slow run alone, so it holds up one group and not every one it could join', async () => {
      const h = harness({ concurrency: 1, batchSize: 10, groupPartitions: 8, slow: ['slow'] });
      const round = async (first: number): Promise<void> => {
        h.scheduler.enqueue('slow', events(first));
        h.scheduler.enqueue('a', events(first + 1));
        h.scheduler.enqueue('b', events(first + 2));
        await h.settled();
      };
      await round(1);
      expect(h.groups).toEqual([['slow', 'a', 'b']]);
      // Everyone in the slow group runs alone once; a and b, quick alone, group again; slow stays alone.
      await round(10);
      expect(h.groups).toHaveLength(1);
      await round(20);
      await round(30);
      expect(h.groups.slice(1).map((group) => [...group].sort())).toEqual([['a', 'b'], ['a', 'b']]);
      expect(h.positionsOf('slow')).toEqual([1n, 10n, 20n, 30n]);
      expect(h.positionsOf('a')).toEqual([2n, 11n, 21n, 31n]);
    });
  });
});
