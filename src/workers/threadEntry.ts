import { parentPort, workerData } from 'node:worker_threads';
import { dumbo } from '@event-driven-io/dumbo';
import { toErrorInfo, WorkerError } from '../core/errors.js';
import { partitionScheduler, type PartitionReport } from '../core/partitionScheduler.js';
import { loadProjectors } from '../projector/loadProjectors.js';
import type { Position } from '../core/position.js';
import type { PositionedEvent } from '../postgres/readEventBatch.js';
import { applyPartitionBatch, type PartitionTransaction } from '../postgres/applyPartitionBatch.js';
import { skipToDeadLetter } from '../postgres/skipToDeadLetter.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';

const port = parentPort;
if (port === null) throw new WorkerError('threadEntry must run in a worker thread');
const data = workerData as WorkerData;
const post = (message: FromWorker): void => port.postMessage(message);

const start = async (): Promise<void> => {
  const projector = (await loadProjectors(data.projectorsUrl)).get(data.processorId);
  if (projector === undefined) throw new WorkerError(`${data.projectorsUrl} no longer exports projector '${data.processorId}'`);
  const pool = dumbo({ connectionString: data.connectionString });
  const scope = (partition: string, checkpoint: Position | null): PartitionTransaction => ({
    pool,
    connectionString: data.connectionString,
    projector,
    partition,
    checkpoint,
    instanceId: data.instanceId,
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
    retries: projector.onError.retries,
    backoff: projector.onError.backoff,
    apply: (partition, checkpoint, events) => applyPartitionBatch(scope(partition, checkpoint), events),
    skip: (partition, checkpoint, event, error, attempts) => skipToDeadLetter(scope(partition, checkpoint), event, error, attempts),
    report: (report) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push(report);
    },
  });

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'events':
        for (const batch of message.batches) scheduler.enqueue(batch.partition, batch.events, batch.checkpoint);
        return;
      case 'stop':
        void scheduler
          .drain()
          .then(() => pool.close())
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
