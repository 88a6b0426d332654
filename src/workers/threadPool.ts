import { Worker } from 'node:worker_threads';
import { toErrorInfo, WorkerError, type ErrorInfo } from '../core/errors.ts';
import type { PartitionSnapshot } from '../core/partitionScheduler.ts';
import type { ThreadPlacement } from '../core/threadPlacement.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import type { FromWorker, PartitionEvents, ProcessorReport, ThreadSnapshot, ToWorker, WorkerData } from './messages.ts';

const sourceExtension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const bootstrapUrl = new URL('./threadBootstrap.mjs', import.meta.url);
const entryUrl = new URL(`./threadEntry.${sourceExtension}`, import.meta.url).href;

/**
 * A thread's young generation, where V8 puts new objects. Under a steady stream of batches V8 grows
 * it to its default maximum, several times this, and each thread's resident memory with it (measured
 * with bench:projectors); a batch's objects fit well within this, at the cost of a few more short
 * collections.
 */
const YoungGenerationMb = 16;

/** How long a thread has to answer for a scheduler snapshot. */
const SnapshotTimeoutMs = 1000;

export type ThreadPoolOptions = {
  projectorsUrl: string;
  processorIds: string[];
  connectionString: string;
  hostId: string;
  /** The engine's thread budget. */
  threads: number;
  /** Each thread's old-generation limit, in MB. */
  heapMb: number;
  placement: ThreadPlacement;
  /** Transactions open at once per thread, across its projectors. */
  concurrency: number;
  /** See `WorkerData.idleInTransactionTimeoutMs`. */
  idleInTransactionTimeoutMs?: number;
};

export type ThreadPoolListeners = {
  onReports: (reports: ProcessorReport[], thread: number) => void;
  /** A thread failed to start or died; the pool is unusable afterwards. */
  onFailure: (error: WorkerError) => void;
  /** Something a thread wants an operator to see. */
  onWarning: (message: string) => void;
};

export type ThreadPool = {
  threadFor(processorId: string, partition: string): number;
  /** Where reports, failures and warnings go; set once by whoever runs the pool. */
  listen(listeners: ThreadPoolListeners): void;
  /** Sends batches to one thread; what is sent within one turn of the event loop goes in one message. */
  send(thread: number, batches: PartitionEvents[]): void;
  /** Tells a partition's thread to forget it (after what was sent before). */
  release(processorId: string, partition: string): void;
  /** Sets partition weights in their threads. */
  setWeights(processorId: string, weights: ReadonlyMap<string, number>): void;
  /** Each thread's scheduler snapshot, per projector. */
  snapshot(options?: { notable?: boolean }): Promise<{ thread: number; processorId: string; partitions: PartitionSnapshot[] }[]>;
  /** Threads of the budget a projector may use. */
  threadsOf(processorId: string): number;
  /** Resolves when every thread has loaded the projectors module; rejects when one failed to. */
  ready(): Promise<void>;
  /** Lets each thread finish its in-flight transactions, then ends it; terminates after `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
};

type Thread = { worker: Worker; ready: Promise<void>; stopped: Promise<void>; stopping: boolean; outgoing: PartitionEvents[] };

/**
 * The engine's worker threads: `threads` of them, started at once and shared by all its projectors.
 * Each imports the projectors module once, while the engine migrates and its source starts reading:
 * messages posted meanwhile wait in the thread's port. Failures before `listen` are kept for it.
 */
export const threadPool = (options: ThreadPoolOptions): ThreadPool => {
  let listeners: ThreadPoolListeners | undefined;
  let failure: WorkerError | undefined;
  const early: { reports: ProcessorReport[]; thread: number }[] = [];
  const snapshots = new Map<number, (processors: ThreadSnapshot[]) => void>();
  let nextSnapshot = 0;

  const fail = (error: WorkerError): void => {
    if (failure !== undefined) return;
    failure = error;
    listeners?.onFailure(error);
  };
  const describe = (index: number, error: ErrorInfo): WorkerError => new WorkerError(`thread ${index} failed: ${error.name}: ${error.message}`);

  const spawn = (index: number): Thread => {
    const workerData: WorkerData = {
      entryUrl,
      projectorsUrl: options.projectorsUrl,
      processorIds: options.processorIds,
      connectionString: options.connectionString,
      thread: index,
      hostId: options.hostId,
      concurrency: options.concurrency,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs,
    };
    const worker = new Worker(bootstrapUrl, { workerData, name: `distributary:${index}`, resourceLimits: { maxYoungGenerationSizeMb: YoungGenerationMb, maxOldGenerationSizeMb: options.heapMb } });
    let markReady = (): void => undefined;
    const thread: Thread = {
      worker,
      stopping: false,
      outgoing: [],
      ready: new Promise<void>((resolve) => {
        markReady = resolve;
        worker.once('exit', () => resolve());
      }),
      stopped: new Promise<void>((resolve) => worker.once('exit', () => resolve())),
    };
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'progress':
          if (listeners === undefined) early.push({ reports: message.reports, thread: index });
          return listeners?.onReports(message.reports, index);
        case 'failed':
          return fail(describe(index, message.error));
        case 'warning':
          return listeners?.onWarning(`thread ${index}: ${message.message}`);
        case 'stopped':
          void worker.terminate();
          return;
        case 'ready':
          return markReady();
        case 'snapshot': {
          const answer = snapshots.get(message.id);
          snapshots.delete(message.id);
          return answer?.(message.processors);
        }
      }
    });
    worker.on('error', (error: unknown) => fail(new WorkerError(`thread ${index} crashed: ${toErrorInfo(error).message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (!thread.stopping) fail(new WorkerError(`thread ${index} exited unexpectedly with code ${code}`));
    });
    return thread;
  };

  const threads = Array.from({ length: options.threads }, (_, index) => spawn(index));

  const flush = (thread: Thread): void => {
    if (thread.outgoing.length === 0) return;
    // An event several projectors on the thread handle crosses once (structured clone copies each
    // reference anew): batches name their events by index.
    const events: PositionedEvent[] = [];
    const indexes = new Map<PositionedEvent, number>();
    const indexOf = (event: PositionedEvent): number => {
      let index = indexes.get(event);
      if (index === undefined) {
        index = events.push(event) - 1;
        indexes.set(event, index);
      }
      return index;
    };
    const batches = thread.outgoing.map((batch) => ({ ...batch, events: batch.events.map(indexOf) }));
    thread.outgoing = [];
    const message: ToWorker = { type: 'events', events, batches };
    thread.worker.postMessage(message);
  };

  return {
    threadFor: (processorId, partition) => options.placement.threadFor(processorId, partition),
    threadsOf: (processorId) => options.placement.threadsOf(processorId),
    listen(given) {
      listeners = given;
      for (const { reports, thread } of early.splice(0)) given.onReports(reports, thread);
      if (failure !== undefined) given.onFailure(failure);
    },
    ready: () =>
      Promise.all(threads.map((thread) => thread.ready)).then(() => {
        if (failure !== undefined) throw failure;
      }),
    send(index, batches) {
      const target = threads[index];
      if (target === undefined) throw new WorkerError(`no thread ${index} in a budget of ${threads.length}`);
      if (target.outgoing.length === 0) setImmediate(() => flush(target));
      target.outgoing.push(...batches);
    },
    release(processorId, partition) {
      const thread = threads[options.placement.threadFor(processorId, partition)]!;
      flush(thread);
      const message: ToWorker = { type: 'release', partitions: [{ processorId, partition }] };
      thread.worker.postMessage(message);
    },
    setWeights(processorId, changed) {
      const byThread = new Map<number, { processorId: string; partition: string; weight: number }[]>();
      for (const [partition, weight] of changed) {
        const index = options.placement.threadFor(processorId, partition);
        byThread.set(index, [...(byThread.get(index) ?? []), { processorId, partition, weight }]);
      }
      for (const [index, weights] of byThread) {
        const message: ToWorker = { type: 'weights', weights };
        threads[index]!.worker.postMessage(message);
      }
    },
    snapshot: async (options) =>
      (
        await Promise.all(
          threads.map(
            (thread, index) =>
              new Promise<{ thread: number; processorId: string; partitions: PartitionSnapshot[] }[]>((resolve) => {
                const id = nextSnapshot++;
                snapshots.set(id, (processors) => resolve(processors.map((p) => ({ thread: index, ...p }))));
                const message: ToWorker = { type: 'snapshot', id, notable: options?.notable };
                thread.worker.postMessage(message);
                // A thread that is gone, or too busy to answer soon (a projection stuck in a loop), answers
                // with nothing: a caller such as the group's rounds must not wait on it.
                thread.stopped.then(() => snapshots.get(id)?.([])).catch(() => undefined);
                setTimeout(() => snapshots.get(id)?.([]), SnapshotTimeoutMs).unref();
              }),
          ),
        )
      ).flat(),
    async stop(timeoutMs) {
      await Promise.all(
        threads.map(async (thread) => {
          flush(thread);
          thread.stopping = true;
          const message: ToWorker = { type: 'stop' };
          thread.worker.postMessage(message);
          const timer = setTimeout(() => void thread.worker.terminate(), timeoutMs);
          await thread.stopped;
          clearTimeout(timer);
        }),
      );
    },
  };
};
