import { parentPort, workerData } from 'node:worker_threads';
import { dumbo } from '@event-driven-io/dumbo';
import pg from 'pg';
import { toErrorInfo, WorkerError } from '../core/errors.ts';
import { partitionScheduler, type PartitionScheduler } from '../core/partitionScheduler.ts';
import type { Position } from '../core/position.ts';
import { transactionSlots } from '../core/transactionSlots.ts';
import { loadProjectors } from '../projector/loadProjectors.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { applyPartitionBatch, applyPartitionGroup, type PartitionTransaction } from '../postgres/applyPartitionBatch.ts';
import { isTransientError } from '../core/isTransientError.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import { recordDeadLetter } from '../postgres/recordDeadLetter.ts';
import { skipToDeadLetter } from '../postgres/skipToDeadLetter.ts';
import type { FromWorker, ProcessorReport, ToWorker, WorkerData } from './messages.ts';

/*
 * One thread of the engine's budget. It loads the projectors module once and runs a partition
 * scheduler for each projector that has partitions here, created on its first events; the schedulers
 * share the thread's connections and transaction slots.
 */

const port = parentPort;
if (port === null) throw new WorkerError('threadEntry must run in a worker thread');
const data = workerData as WorkerData;
const post = (message: FromWorker): void => port.postMessage(message);

const start = async (): Promise<void> => {
  const projectors = await loadProjectors(data.projectorsUrl);
  const missing = data.processorIds.filter((id) => !projectors.has(id));
  if (missing.length > 0) throw new WorkerError(`${data.projectorsUrl} no longer exports projector(s) ${missing.map((id) => `'${id}'`).join(', ')}`);
  const connections = new pg.Pool({
    connectionString: data.connectionString,
    max: data.concurrency + 2,
    ...(data.idleInTransactionTimeoutMs === undefined ? {} : { idle_in_transaction_session_timeout: data.idleInTransactionTimeoutMs }),
  });
  // An idle connection dropped by the server (restart, failover) is simply replaced on next use.
  connections.on('error', () => undefined);
  const pool = dumbo({ connectionString: data.connectionString, pool: connections });
  const slots = transactionSlots(data.concurrency);

  let pending: ProcessorReport[] = [];
  const flush = (): void => {
    const reports = pending;
    pending = [];
    post({ type: 'progress', reports });
  };

  const schedulers = new Map<string, PartitionScheduler<PositionedEvent, Position>>();
  const leases = new Map<string, Map<string, number>>();

  const schedulerOf = (projector: AnyPartitionedProjector): PartitionScheduler<PositionedEvent, Position> => {
    const existing = schedulers.get(projector.processorId);
    if (existing !== undefined) return existing;
    const { processorId } = projector;
    const instanceId = `${data.hostId}/${processorId}/${data.thread}`;
    const leased = new Map<string, number>();
    leases.set(processorId, leased);
    let firstWrites = true;
    const scope = (partition: string, checkpoint: Position | null): PartitionTransaction => ({
      pool,
      connectionString: data.connectionString,
      projector,
      partition,
      checkpoint,
      instanceId,
      lease: leased.has(partition) ? { owner: data.hostId, epoch: leased.get(partition)! } : undefined,
      terminate: async (pid) => void (await connections.query('SELECT pg_terminate_backend($1)', [pid])),
      firstWrites,
    });
    // Once a write of the projector committed here, the tables it creates on first write exist.
    const wrote = <T extends { ok: boolean; applied?: number }>(outcome: T): T => {
      if (outcome.ok && (outcome.applied ?? 0) > 0) firstWrites = false;
      return outcome;
    };
    const scheduler = partitionScheduler<PositionedEvent, Position>({
      concurrency: projector.concurrency,
      slots,
      batchSize: projector.batchSize,
      minShare: projector.minShare,
      retries: projector.onError.retries,
      backoff: projector.onError.backoff,
      then: projector.onError.then,
      isTransient: isTransientError,
      apply: async (partition, checkpoint, events) => wrote(await applyPartitionBatch(scope(partition, checkpoint), events)),
      groupPartitions: projector.partitionsPerTransaction,
      warn: (message) => post({ type: 'warning', message: `${processorId}: ${message}` }),
      applyGroup: async (batches) => {
        const outcomes = await applyPartitionGroup(batches.map(({ partition, checkpoint, events }) => ({ scope: scope(partition, checkpoint), items: events })));
        outcomes?.forEach(wrote);
        return outcomes;
      },
      skip: (partition, checkpoint, item, error, attempts) => skipToDeadLetter(scope(partition, checkpoint), item, error, attempts),
      halt: (partition, item, error, attempts) => recordDeadLetter(connections, { processorId, partition, item, error, attempts, policy: 'halt' }),
      report: (report) => {
        if (pending.length === 0) setImmediate(flush);
        pending.push({ processorId, ...report });
      },
    });
    schedulers.set(processorId, scheduler);
    return scheduler;
  };

  const projectorOf = (processorId: string): AnyPartitionedProjector => {
    const projector = projectors.get(processorId);
    if (projector === undefined) throw new WorkerError(`thread ${data.thread} has no projector '${processorId}'`);
    return projector;
  };

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'events':
        for (const batch of message.batches) {
          const scheduler = schedulerOf(projectorOf(batch.processorId));
          if (batch.lease !== undefined) leases.get(batch.processorId)!.set(batch.partition, batch.lease);
          scheduler.enqueue(batch.partition, batch.events.map((index) => message.events[index]!), batch.checkpoint);
        }
        return;
      case 'release':
        for (const { processorId, partition } of message.partitions) {
          schedulers.get(processorId)?.release(partition);
          leases.get(processorId)?.delete(partition);
        }
        return;
      case 'weights':
        for (const { processorId, partition, weight } of message.weights) schedulerOf(projectorOf(processorId)).setWeight(partition, weight);
        return;
      case 'snapshot':
        post({
          type: 'snapshot',
          id: message.id,
          processors: [...schedulers].map(([processorId, scheduler]) => ({ processorId, partitions: scheduler.snapshot({ notable: message.notable }) })),
        });
        return;
      case 'stop':
        void Promise.all([...schedulers.values()].map((scheduler) => scheduler.drain()))
          .then(() => connections.end())
          .finally(() => {
            if (pending.length > 0) flush();
            post({ type: 'stopped' });
          });
        return;
    }
  });
  post({ type: 'ready' });
};

start().catch((error: unknown) => post({ type: 'failed', error: toErrorInfo(error) }));
