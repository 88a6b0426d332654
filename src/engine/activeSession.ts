import type { Dumbo } from '@event-driven-io/dumbo';
import type pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.ts';
import { wakeable } from '../core/wakeable.ts';
import { DistributaryError } from '../core/errors.ts';
import { BeforeFirstPosition, comparePositions, type Position } from '../core/position.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readEventBatch } from '../postgres/readEventBatch.ts';
import { readPacer } from '../postgres/readPacer.ts';
import { readHaltedPartitions } from '../postgres/readHaltedPartitions.ts';
import { replaySkippedDeadLetters } from '../postgres/replaySkippedDeadLetters.ts';
import { resolveRetriedDeadLetters } from '../postgres/resolveRetriedDeadLetters.ts';
import { storeCheckpoint } from '../postgres/storeCheckpoint.ts';
import type { WakeUps } from '../postgres/wakeUps.ts';
import type { ResolvedEngineOptions } from './options.ts';
import { schedulerUpkeep } from './schedulerUpkeep.ts';
import { projectorRuntime, type ProjectorRuntime } from './projectorRuntime.ts';
import type { ProjectorStatus } from './status.ts';

/*
 * One period during which this host holds the reader lease:
 *   open    — load each projector's checkpoints and stored low-water mark
 *   run     — read from the lowest mark, route, store marks every markIntervalMs; until aborted
 *   close   — let threads finish in-flight transactions, store final marks
 * Anything unexpected (a thread dies, a mark write finds another reader) aborts the session; the
 * engine then starts a new one from what is stored, so nothing depends on memory surviving.
 */

export type ActiveSession = {
  /** Resolves when the session ends, with why. */
  run(): Promise<string>;
  abort(reason: string): void;
  readerPosition(): Position;
  /** True when every projector has committed everything up to `position`. */
  isCaughtUpTo(position: Position): boolean;
  status(): ProjectorStatus[];
  /** The projectors of this session, for transports that deliver events themselves. */
  runtimes(): ProjectorRuntime[];
  /** Partitions that take no events this session, and why. */
  stopped(): { processorId: string; partition: string; state: 'halted' | 'fenced' }[];
  close(): Promise<void>;
};

type Mark = { runtime: ProjectorRuntime; processorId: string; stored: Position | null };

const markProcessorId = (group: string, projector: AnyPartitionedProjector): string =>
  `distributary:mark:${group}:${projector.processorId}`;

export const openActiveSession = async (context: {
  options: ResolvedEngineOptions;
  projectors: AnyPartitionedProjector[];
  db: pg.Pool;
  dumbo: Dumbo;
  wakeUps: WakeUps;
  onProgress: () => void;
}): Promise<ActiveSession> => {
  const { options, db, wakeUps } = context;
  const controller = new AbortController();
  let abortReason = 'stopped';
  const abort = (reason: string): void => {
    if (controller.signal.aborted) return;
    abortReason = reason;
    controller.abort();
  };

  // Commits wake a reader paused on a full buffer, and whoever waits for the engine to catch up.
  const committed = wakeable();
  const onProgress = (): void => {
    committed.wake();
    context.onProgress();
  };

  const marks: Mark[] = [];
  for (const projector of context.projectors) {
    const processorId = markProcessorId(options.group, projector);
    const [checkpoints, stored, halted] = await Promise.all([
      readCheckpoints(db, projector.processorId, projector.version),
      readCheckpoints(db, processorId, projector.version).then((rows) => rows.get('emt:default') ?? null),
      readHaltedPartitions(db, projector.processorId),
    ]);
    const runtime = projectorRuntime({
      projector,
      projectorsUrl: options.projectorsUrl,
      connectionString: options.connectionString,
      hostId: options.hostId,
      db,
      maxPartitionPending: options.maxPartitionPending,
      readBatchSize: options.readBatchSize,
      checkpoints,
      halted,
      mark: stored ?? BeforeFirstPosition,
      logger: options.logger,
      onProgress,
      onFailure: (error) => {
        options.logger.error(error.message);
        abort(error.message);
      },
    });
    marks.push({ runtime, processorId, stored });
  }
  await Promise.all(marks.map((mark) => mark.runtime.warm()));
  let position = marks
    .map((mark) => mark.stored ?? BeforeFirstPosition)
    .reduce((low, stored) => (comparePositions(stored, low) < 0 ? stored : low));

  const storeMarks = async (): Promise<void> => {
    for (const mark of marks) {
      const next = mark.runtime.tracker.lowWaterMark();
      if (mark.stored !== null ? comparePositions(next, mark.stored) <= 0 : comparePositions(next, BeforeFirstPosition) === 0) continue;
      const result = await storeCheckpoint(db, {
        processorId: mark.processorId,
        version: mark.runtime.projector.version,
        partition: 'emt:default',
        instanceId: options.hostId,
        expected: mark.stored,
        next,
      });
      if (!result.ok) throw new DistributaryError(`another reader moved the mark of ${mark.runtime.projector.processorId} (${result.reason})`);
      mark.stored = next;
    }
  };

  const buffered = (): number => marks.reduce((sum, mark) => sum + mark.runtime.buffered(), 0);

  const readLoop = async (): Promise<void> => {
    const pause = readPacer(wakeUps, options.idlePollMs, committed);
    while (!controller.signal.aborted) {
      if (buffered() >= options.maxPendingEvents) {
        await committed.wait(options.idlePollMs, controller.signal);
        continue;
      }
      for (const mark of marks) await mark.runtime.refill(position, options.maxPendingEvents - buffered());
      if (controller.signal.aborted) return;
      const generation = wakeUps.generation();
      const batch = await readEventBatch(db, position, options.readBatchSize);
      if (controller.signal.aborted) return;
      for (const mark of marks) {
        await mark.runtime.route(batch.events, position);
        mark.runtime.tracker.readThrough(batch.last);
      }
      position = batch.last;
      onProgress();
      const paused = pause(batch, generation, controller.signal);
      // A skipped partition that gets room again is read for at once, not at the next append.
      let roomAgain = marks.some((mark) => mark.runtime.refillable());
      while (!batch.more && !roomAgain && marks.some((mark) => mark.runtime.tracker.skipped().size > 0) && !controller.signal.aborted) {
        const woken = await Promise.race([paused.then(() => 'paused' as const), committed.wait(Number.POSITIVE_INFINITY, controller.signal)]);
        if (woken === 'paused') break;
        roomAgain = marks.some((mark) => mark.runtime.refillable());
      }
      if (!roomAgain) await paused;
    }
  };

  // Operators retry or discard dead letters in the database; a halted partition released that way
  // resumes in a new session, which re-reads from the marks (the halted partition's mark is still in
  // front of its dead letter). Retried skipped letters are applied here, out of order.
  const followDeadLetters = async (): Promise<void> => {
    await resolveRetriedDeadLetters(db);
    await replaySkippedDeadLetters(db, context.dumbo, options.connectionString, new Map(marks.map((mark) => [mark.runtime.projector.processorId, mark.runtime.projector])));
    for (const mark of marks) {
      const halted = [...mark.runtime.stopped()].filter(([, why]) => why === 'halted').map(([key]) => key);
      if (halted.length === 0) continue;
      const stillHalted = await readHaltedPartitions(db, mark.runtime.projector.processorId);
      const released = halted.filter((key) => !stillHalted.has(key));
      if (released.length > 0) return abort(`dead letters of ${mark.runtime.projector.processorId}/${released.join(', ')} were retried or discarded; resuming`);
    }
  };

  const upkeep = schedulerUpkeep(db, options.hostId, marks.map((mark) => mark.runtime));
  const markLoop = async (): Promise<void> => {
    await upkeep();
    while (!controller.signal.aborted) {
      await abortableSleep(options.markIntervalMs, controller.signal);
      if (controller.signal.aborted) return;
      await storeMarks();
      await followDeadLetters();
      await upkeep();
    }
  };

  const guard = (loop: () => Promise<void>): Promise<void> =>
    loop().catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      options.logger.error(`reader session failed: ${message}`);
      abort(message);
    });

  return {
    async run() {
      await Promise.all([guard(readLoop), guard(markLoop)]);
      return abortReason;
    },
    abort,
    readerPosition: () => position,
    isCaughtUpTo: (target) => comparePositions(position, target) >= 0 && marks.every((mark) => mark.runtime.isCaughtUpTo(target)),
    status: () => marks.map((mark) => mark.runtime.status()),
    runtimes: () => marks.map((mark) => mark.runtime),
    stopped: () =>
      marks.flatMap((mark) => [...mark.runtime.stopped()].map(([partition, state]) => ({ processorId: mark.runtime.projector.processorId, partition, state }))),
    async close() {
      abort('closed');
      await Promise.all(marks.map((mark) => mark.runtime.stop(options.leaseTimeoutSeconds * 1000)));
      await storeMarks().catch((error: unknown) => options.logger.warn(`could not store final marks: ${error instanceof Error ? error.message : String(error)}`));
    },
  };
};
