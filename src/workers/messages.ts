import type { ErrorInfo } from '../core/errors.ts';
import type { PartitionReport, PartitionSnapshot } from '../core/partitionScheduler.ts';
import type { Position } from '../core/position.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';

/** What a worker thread is started with. */
export type WorkerData = {
  /** The thread entry module, imported by the bootstrap. */
  entryUrl: string;
  projectorsUrl: string;
  processorId: string;
  connectionString: string;
  /** Written to `processor_instance_id` with every checkpoint. */
  instanceId: string;
  /** The host, as partition leases name their owner. */
  hostId: string;
  /** The server ends a transaction left idle this long (a paused host), so its locks do not block the next owner. */
  idleInTransactionTimeoutMs?: number;
};

export type PartitionEvents = {
  partition: string;
  /** The stored checkpoint, sent with the first events of a partition in a session. */
  checkpoint?: Position | null;
  /** The epoch of this host's lease on the partition, sent with the checkpoint; commits are fenced on it. */
  lease?: number;
  events: PositionedEvent[];
};

/** Main thread to worker: one message per reader batch, never one per event. */
export type ToWorker =
  | { type: 'events'; batches: PartitionEvents[] }
  | { type: 'release'; partitions: string[] }
  | { type: 'weights'; weights: { partition: string; weight: number }[] }
  | { type: 'snapshot'; id: number; notable?: boolean }
  | { type: 'stop' };

/** Worker to main thread: reports are flushed together once per turn of the worker's event loop. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; reports: PartitionReport<Position>[] }
  | { type: 'snapshot'; id: number; partitions: PartitionSnapshot[] }
  | { type: 'stopped' }
  | { type: 'warning'; message: string }
  | { type: 'failed'; error: ErrorInfo };
