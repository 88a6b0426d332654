import type { ErrorInfo } from '../core/errors.ts';
import type { PartitionReport, PartitionSnapshot } from '../core/partitionScheduler.ts';
import type { Position } from '../core/position.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';

/** What a worker thread is started with. */
export type WorkerData = {
  /** The thread entry module, imported by the bootstrap. */
  entryUrl: string;
  projectorsUrl: string;
  /** The projectors this engine runs; the thread checks its module still exports them. */
  processorIds: string[];
  connectionString: string;
  /** The thread's index in the engine's budget. */
  thread: number;
  /** The host, as partition leases name their owner; with the projector and thread it names the writer of a checkpoint. */
  hostId: string;
  /** Transactions open at once on the thread, across its projectors. */
  concurrency: number;
  /** The server ends a transaction left idle this long (a paused host), so its locks do not block the next owner. */
  idleInTransactionTimeoutMs?: number;
};

export type PartitionEvents = {
  processorId: string;
  partition: string;
  /** The stored checkpoint, sent with the first events of a partition in a session. */
  checkpoint?: Position | null;
  /** The epoch of this host's lease on the partition, sent with the checkpoint; commits are fenced on it. */
  lease?: number;
  events: PositionedEvent[];
};

export type ProcessorPartition = { processorId: string; partition: string };

export type ProcessorReport = PartitionReport<Position> & { processorId: string };

export type ThreadSnapshot = { processorId: string; partitions: PartitionSnapshot[] };

/** Batches as they cross to a thread: events by index into the message's `events`, each sent once however many projectors' batches hold it. */
export type IndexedBatch = Omit<PartitionEvents, 'events'> & { events: number[] };

/** Main thread to worker: one message per read batch, never one per event. */
export type ToWorker =
  | { type: 'events'; events: PositionedEvent[]; batches: IndexedBatch[] }
  | { type: 'release'; partitions: ProcessorPartition[] }
  | { type: 'weights'; weights: (ProcessorPartition & { weight: number })[] }
  | { type: 'snapshot'; id: number; notable?: boolean }
  | { type: 'stop' };

/** Worker to main thread: reports are flushed together once per turn of the worker's event loop. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; reports: ProcessorReport[] }
  | { type: 'snapshot'; id: number; processors: ThreadSnapshot[] }
  | { type: 'stopped' }
  | { type: 'warning'; message: string }
  | { type: 'failed'; error: ErrorInfo };
