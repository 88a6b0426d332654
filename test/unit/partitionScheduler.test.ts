import { describe, expect, it } from 'vitest';
import { partitionScheduler, type CommitOutcome, type PartitionReport } from '../../src/core/partitionScheduler.js';

type Ev = { position: bigint; bad?: boolean };
const backoff = { initialMs: 1, maxMs: 2, jitter: 0 };

const harness = (options: { concurrency?: number; batchSize?: number; retries?: number; fenceAt?: bigint } = {}) => {
  const applied: { partition: string; positions: bigint[] }[] = [];
  const skipped: { partition: string; position: bigint; message: string; attempts: number }[] = [];
  const reports: PartitionReport<bigint>[] = [];
  let running = 0;
  let maxRunning = 0;
  const scheduler = partitionScheduler<Ev, bigint>({
    concurrency: options.concurrency ?? 2,
    batchSize: options.batchSize ?? 3,
    retries: options.retries ?? 1,
    backoff,
    apply: async (partition, checkpoint, events): Promise<CommitOutcome<bigint>> => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running--;
      if (events.some((e) => e.bad)) throw new Error(`bad event in ${partition}`);
      const last = events.at(-1)!.position;
      if (options.fenceAt !== undefined && last >= options.fenceAt) return { ok: false, reason: 'CURRENT_AHEAD' };
      applied.push({ partition, positions: events.filter((e) => checkpoint === null || e.position > checkpoint).map((e) => e.position) });
      return { ok: true, checkpoint: last, applied: events.length };
    },
    skip: (partition, _checkpoint, event, error, attempts) => {
      skipped.push({ partition, position: event.position, message: error.message, attempts });
      return Promise.resolve({ ok: true, checkpoint: event.position, applied: 0 });
    },
    report: (report) => reports.push(report),
  });
  const settled = async (): Promise<void> => {
    for (let i = 0; i < 500 && (scheduler.inFlight() > 0 || reports.some((r) => r.state === 'retrying') && reports.at(-1)?.state !== 'idle'); i++)
      await new Promise((resolve) => setTimeout(resolve, 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
  };
  return { scheduler, applied, skipped, reports, settled, maxRunning: () => maxRunning };
};

const events = (...positions: number[]): Ev[] => positions.map((p) => ({ position: BigInt(p) }));

describe('partitionScheduler', () => {
  it('applies each partition in order, in batches, at most one batch per partition and `concurrency` in all', async () => {
    const h = harness({ concurrency: 2, batchSize: 2 });
    h.scheduler.enqueue('a', events(1, 3, 5, 7));
    h.scheduler.enqueue('b', events(2, 4));
    h.scheduler.enqueue('c', events(6));
    await h.settled();
    const positionsOf = (p: string) => h.applied.filter((a) => a.partition === p).flatMap((a) => a.positions);
    expect(positionsOf('a')).toEqual([1n, 3n, 5n, 7n]);
    expect(positionsOf('b')).toEqual([2n, 4n]);
    expect(positionsOf('c')).toEqual([6n]);
    expect(h.applied.every((a) => a.positions.length <= 2)).toBe(true);
    expect(h.maxRunning()).toBe(2);
  });

  it('isolates the failing event after retries, dead-letters it and applies the rest in order', async () => {
    const h = harness({ batchSize: 5, retries: 1 });
    h.scheduler.enqueue('a', [...events(1, 2), { position: 3n, bad: true }, ...events(4, 5)], null);
    h.scheduler.enqueue('b', events(6, 7));
    await h.settled();
    expect(h.applied.filter((a) => a.partition === 'a').flatMap((a) => a.positions)).toEqual([1n, 2n, 4n, 5n]);
    expect(h.applied.filter((a) => a.partition === 'b').flatMap((a) => a.positions)).toEqual([6n, 7n]);
    expect(h.skipped).toEqual([{ partition: 'a', position: 3n, message: 'bad event in a', attempts: 3 }]);
    expect(h.reports.filter((r) => r.partition === 'a').at(-1)).toMatchObject({ checkpoint: 5n, state: 'idle' });
  });

  it('stops a partition whose commit is fenced and reports it, while others go on', async () => {
    const h = harness({ batchSize: 1, fenceAt: 3n });
    h.scheduler.enqueue('a', events(1, 3, 5));
    h.scheduler.enqueue('b', events(2));
    await h.settled();
    h.scheduler.enqueue('a', events(9));
    await h.settled();
    expect(h.applied.map((a) => a.positions[0])).toEqual(expect.arrayContaining([1n, 2n]));
    expect(h.applied.some((a) => a.partition === 'a' && a.positions.includes(5n))).toBe(false);
    expect(h.reports.filter((r) => r.partition === 'a').at(-1)).toMatchObject({ state: 'fenced', checkpoint: 1n });
  });
});
