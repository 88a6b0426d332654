import type pg from 'pg';
import type { WorkerError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { PartitionReport } from '../core/partitionScheduler.js';
import { resolvePartitionKey } from '../core/partitionKey.js';
import { progressTracker, type ProgressTracker } from '../core/progressTracker.js';
import { isCovered, type Position } from '../core/position.js';
import type { AnyPartitionedProjector, ProjectorEvent } from '../projector/partitionedProjector.js';
import type { PositionedEvent } from '../postgres/readEventBatch.js';
import { recordDeadLetter } from '../postgres/recordDeadLetter.js';
import type { PartitionEvents } from '../workers/messages.js';
import { workerPool, type WorkerPool } from '../workers/workerPool.js';
import type { PartitionStatus, ProjectorStatus } from './status.js';

export type ProjectorRuntimeOptions = {
  projector: AnyPartitionedProjector;
  projectorsUrl: string;
  connectionString: string;
  hostId: string;
  db: pg.Pool;
  /** Checkpoints stored when the session began. */
  checkpoints: Map<string, Position>;
  /** The stored low-water mark; the reader starts after the lowest of all projectors' marks. */
  mark: Position;
  logger: Logger;
  onProgress: () => void;
  onFailure: (error: WorkerError) => void;
};

export type ProjectorRuntime = {
  readonly projector: AnyPartitionedProjector;
  readonly tracker: ProgressTracker;
  /** Routes one read batch that follows `after`: each handled event to its partition's thread, bad keys to dead letters. */
  route(events: readonly PositionedEvent[], after: Position): Promise<void>;
  /** Routed events still buffered for partitions that can make progress. */
  buffered(): number;
  status(): ProjectorStatus;
  stop(timeoutMs: number): Promise<void>;
};

type Tracked = Omit<PartitionStatus, 'lag' | 'owner' | 'checkpoint'> & { checkpoint: Position | null; thread: number; sent: boolean };

/** One projector during one active session: its threads, partitions and progress. */
export const projectorRuntime = (options: ProjectorRuntimeOptions): ProjectorRuntime => {
  const { projector, logger } = options;
  const tracker = progressTracker(options.mark);
  const partitions = new Map<string, Tracked>();
  let fencedPending = 0;

  const partition = (key: string): Tracked => {
    let tracked = partitions.get(key);
    if (tracked === undefined) {
      tracked = {
        partition: key,
        checkpoint: options.checkpoints.get(key) ?? null,
        state: 'idle',
        applied: 0,
        deadLettered: 0,
        thread: pool.threadFor(key),
        sent: false,
      };
      partitions.set(key, tracked);
    }
    return tracked;
  };

  const onReports = (reports: PartitionReport<Position>[]): void => {
    for (const report of reports) {
      const tracked = partition(report.partition);
      const wasFenced = tracked.state === 'fenced';
      tracked.state = report.state;
      tracked.checkpoint = report.checkpoint;
      tracked.applied += report.applied;
      tracked.deadLettered += report.deadLettered;
      tracked.lastError = report.error;
      if (report.checkpoint !== null) tracker.committed(report.partition, report.checkpoint);
      if (report.state === 'fenced' && !wasFenced) {
        fencedPending += tracker.pending(report.partition);
        logger.warn(`${projector.processorId}/${report.partition}: stopped, another owner committed for it`);
      }
    }
    options.onProgress();
  };

  const pool: WorkerPool = workerPool({
    projector,
    projectorsUrl: options.projectorsUrl,
    connectionString: options.connectionString,
    instanceId: options.hostId,
    onReports,
    onFailure: options.onFailure,
  });

  for (const key of options.checkpoints.keys()) partition(key);

  const deadLetterKeyless = async (event: ProjectorEvent, error: Error): Promise<void> => {
    logger.warn(`${projector.processorId}: event at ${event.metadata.globalPosition} dead-lettered: ${error.message}`);
    await recordDeadLetter(options.db, {
      processorId: projector.processorId,
      partition: null,
      event,
      error: { name: error.name, message: error.message, stack: error.stack },
      attempts: 1,
      decision: 'skipped',
    });
  };

  return {
    projector,
    tracker,
    async route(events, after) {
      const outgoing = new Map<number, Map<string, PartitionEvents>>();
      let previous = after;
      for (const item of events) {
        const { event, position } = item;
        const before = previous;
        previous = position;
        if (isCovered(position, options.mark) || !projector.handles.has(event.type)) continue;
        const key = resolvePartitionKey(projector.partitionBy, event);
        if (!key.ok) {
          await deadLetterKeyless(event, key.error);
          continue;
        }
        const tracked = partition(key.key);
        tracker.routed(key.key, position, before);
        if (tracked.state === 'fenced') {
          fencedPending++;
          continue;
        }
        let byPartition = outgoing.get(tracked.thread);
        if (byPartition === undefined) outgoing.set(tracked.thread, (byPartition = new Map<string, PartitionEvents>()));
        let batch = byPartition.get(key.key);
        if (batch === undefined) {
          batch = tracked.sent ? { partition: key.key, events: [] } : { partition: key.key, checkpoint: tracked.checkpoint, events: [] };
          tracked.sent = true;
          byPartition.set(key.key, batch);
        }
        batch.events.push(item);
      }
      for (const [thread, byPartition] of outgoing) pool.send(thread, [...byPartition.values()]);
    },
    buffered: () => tracker.totalPending() - fencedPending,
    status: () => ({
      processorId: projector.processorId,
      lowWaterMark: tracker.lowWaterMark().global,
      threads: pool.threads(),
      partitions: [...partitions.values()].map(({ thread, sent: _sent, checkpoint, ...rest }) => ({
        ...rest,
        checkpoint: checkpoint?.global ?? null,
        lag: tracker.pending(rest.partition),
        owner: `${options.hostId}/${projector.processorId}/${thread}`,
      })),
    }),
    stop: (timeoutMs) => pool.stop(timeoutMs),
  };
};
