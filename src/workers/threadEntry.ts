import { parentPort, workerData } from 'node:worker_threads';
import { dumbo } from '@event-driven-io/dumbo';
import pg from 'pg';
import { toErrorInfo, WorkerError } from '../core/errors.ts';
import { partitionScheduler, type PartitionReport } from '../core/partitionScheduler.ts';
import type { Position } from '../core/position.ts';
import { loadProjectors } from '../projector/loadProjectors.ts';
import { applyPartitionBatch, applyPartitionGroup, type PartitionTransaction } from '../postgres/applyPartitionBatch.ts';
import { isTransientError } from '../postgres/isTransientError.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import { recordDeadLetter } from '../postgres/recordDeadLetter.ts';
import { skipToDeadLetter } from '../postgres/skipToDeadLetter.ts';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';

const port = parentPort;
if (port === null) throw new WorkerError('threadEntry must run in a worker thread');
const data = workerData as WorkerData;
const post = (message: FromWorker): void => port.postMessage(message);

const start = async (): Promise<void> => {
  const projector = (await loadProjectors(data.projectorsUrl)).get(data.processorId);
  if (projector === undefined) throw new WorkerError(`${data.projectorsUrl} no longer exports projector '${data.processorId}'`);
  const connections = new pg.Pool({
    connectionString: data.connectionString,
    max: projector.concurrency + 2,
    ...(data.idleInTransactionTimeoutMs === undefined ? {} : { idle_in_transaction_session_timeout: data.idleInTransactionTimeoutMs }),
  });
  const leases = new Map<string, number>();
  // An idle connection dropped by the server (restart, failover) is simply replaced on next use.
  connections.on('error', () => undefined);
  const pool = dumbo({ connectionString: data.connectionString, pool: connections });
  const scope = (partition: string, checkpoint: Position | null): PartitionTransaction => ({
    pool,
    connectionString: data.connectionString,
    projector,
    partition,
    checkpoint,
    instanceId: data.instanceId,
    lease: leases.has(partition) ? { owner: data.hostId, epoch: leases.get(partition)! } : undefined,
    terminate: async (pid) => void (await connections.query('SELECT pg_terminate_backend($1)', [pid])),
  });

  let pending: PartitionReport<Position>[] = [];
  const flush = (): void => {
    const reports = pending;
    pending = [];
    post({ type: 'progress', reports });
  };

  const scheduler = partitionScheduler<PositionedEvent, Position>({
    concurrency: projector.concurrency,
    batchSize: projector.batchSize,
    minShare: projector.minShare,
    retries: projector.onError.retries,
    backoff: projector.onError.backoff,
    then: projector.onError.then,
    isTransient: isTransientError,
    apply: (partition, checkpoint, events) => applyPartitionBatch(scope(partition, checkpoint), events),
    groupPartitions: projector.partitionsPerTransaction,
    warn: (message) => post({ type: 'warning', message }),
    applyGroup: (batches) => applyPartitionGroup(batches.map(({ partition, checkpoint, events }) => ({ scope: scope(partition, checkpoint), items: events }))),
    skip: (partition, checkpoint, item, error, attempts) => skipToDeadLetter(scope(partition, checkpoint), item, error, attempts),
    halt: (partition, item, error, attempts) =>
      recordDeadLetter(connections, { processorId: projector.processorId, partition, item, error, attempts, policy: 'halt' }),
    report: (report) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push(report);
    },
  });

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'events':
        for (const batch of message.batches) {
          if (batch.lease !== undefined) leases.set(batch.partition, batch.lease);
          scheduler.enqueue(batch.partition, batch.events, batch.checkpoint);
        }
        return;
      case 'release':
        for (const partition of message.partitions) {
          scheduler.release(partition);
          leases.delete(partition);
        }
        return;
      case 'weights':
        for (const { partition, weight } of message.weights) scheduler.setWeight(partition, weight);
        return;
      case 'snapshot':
        post({ type: 'snapshot', id: message.id, partitions: scheduler.snapshot({ notable: message.notable }) });
        return;
      case 'stop':
        void scheduler
          .drain()
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
