import { Worker } from 'node:worker_threads';
import { WorkerError, type ErrorInfo } from '../core/errors.ts';
import type { PartitionReport, PartitionSnapshot } from '../core/partitionScheduler.ts';
import type { Position } from '../core/position.ts';
import { placementRouter } from '../core/placementRouter.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { FromWorker, PartitionEvents, ToWorker, WorkerData } from './messages.ts';

const sourceExtension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const bootstrapUrl = new URL('./threadBootstrap.mjs', import.meta.url);
const entryUrl = new URL(`./threadEntry.${sourceExtension}`, import.meta.url).href;

export type WorkerPoolOptions = {
  projector: AnyPartitionedProjector;
  projectorsUrl: string;
  connectionString: string;
  instanceId: string;
  /** See `WorkerData.idleInTransactionTimeoutMs`. */
  idleInTransactionTimeoutMs?: number;
  onReports: (reports: PartitionReport<Position>[], thread: number) => void;
  /** A thread failed to start or died; the pool is unusable afterwards. */
  onFailure: (error: WorkerError) => void;
  /** Something a thread wants an operator to see. */
  onWarning?: (message: string) => void;
};

export type WorkerPool = {
  threadFor(partition: string): number;
  /** Sends one reader batch's worth of events to one thread, in one message. */
  send(thread: number, batches: PartitionEvents[]): void;
  /** Tells a partition's thread to forget it (after what was sent before). */
  release(partition: string): void;
  /** Sets partition weights in their threads (started or not: a thread starts with the weights set so far). */
  setWeights(weights: ReadonlyMap<string, number>): void;
  /** Each started thread's scheduler snapshot. */
  snapshot(options?: { notable?: boolean }): Promise<{ thread: number; partitions: PartitionSnapshot[] }[]>;
  threads(): number;
  /** Starts every thread a `hash` placement will use and resolves when they are ready, so a first event does not wait for one. */
  warm(): Promise<void>;
  /** Lets each thread finish its in-flight transactions, then ends it; terminates after `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
};

type Thread = { worker: Worker; ready: Promise<void>; stopped: Promise<void>; stopping: boolean; outgoing: PartitionEvents[] };

/** The worker threads of one projector on this host, created on first use. */
export const workerPool = (options: WorkerPoolOptions): WorkerPool => {
  const router = placementRouter(options.projector.placement);
  const threads = new Map<number, Thread>();
  const weights = new Map<string, number>();
  const snapshots = new Map<number, (partitions: PartitionSnapshot[]) => void>();
  let nextSnapshot = 0;
  let failed = false;

  const fail = (error: WorkerError): void => {
    if (failed) return;
    failed = true;
    options.onFailure(error);
  };

  const spawn = (index: number): Thread => {
    const workerData: WorkerData = {
      entryUrl,
      projectorsUrl: options.projectorsUrl,
      processorId: options.projector.processorId,
      connectionString: options.connectionString,
      instanceId: `${options.instanceId}/${options.projector.processorId}/${index}`,
      hostId: options.instanceId,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs,
    };
    const worker = new Worker(bootstrapUrl, { workerData, name: `distributary:${options.projector.processorId}:${index}` });
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
          return options.onReports(message.reports, index);
        case 'failed':
          return fail(describe(index, message.error));
        case 'warning':
          return options.onWarning?.(`${options.projector.processorId} thread ${index}: ${message.message}`);
        case 'stopped':
          void worker.terminate();
          return;
        case 'ready':
          return markReady();
        case 'snapshot': {
          const answer = snapshots.get(message.id);
          snapshots.delete(message.id);
          return answer?.(message.partitions);
        }
      }
    });
    worker.on('error', (error) => fail(new WorkerError(`${options.projector.processorId} thread ${index} crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (!thread.stopping) fail(new WorkerError(`${options.projector.processorId} thread ${index} exited unexpectedly with code ${code}`));
    });
    const own = [...weights].filter(([partition]) => router.threadFor(partition) === index).map(([partition, weight]) => ({ partition, weight }));
    if (own.length > 0) {
      const message: ToWorker = { type: 'weights', weights: own };
      worker.postMessage(message);
    }
    return thread;
  };

  const describe = (index: number, error: ErrorInfo): WorkerError =>
    new WorkerError(`${options.projector.processorId} thread ${index} failed: ${error.name}: ${error.message}`);

  const flush = (thread: Thread): void => {
    if (thread.outgoing.length === 0) return;
    const message: ToWorker = { type: 'events', batches: thread.outgoing };
    thread.outgoing = [];
    thread.worker.postMessage(message);
  };

  return {
    threadFor: (partition) => router.threadFor(partition),
    warm() {
      if (options.projector.placement.type !== 'hash') return Promise.resolve();
      for (let index = 0; index < options.projector.placement.workers; index++) if (!threads.has(index)) threads.set(index, spawn(index));
      return Promise.all([...threads.values()].map((thread) => thread.ready)).then(() => undefined);
    },
    send(index, batches) {
      let thread = threads.get(index);
      if (thread === undefined) {
        thread = spawn(index);
        threads.set(index, thread);
      }
      // What is sent to a thread within one turn of the event loop (one read of the store, or all the
      // messages of one read from the NATS socket) goes in one message.
      const target = thread;
      if (target.outgoing.length === 0) setImmediate(() => flush(target));
      target.outgoing.push(...batches);
    },
    release(partition) {
      const thread = threads.get(router.threadFor(partition));
      if (thread === undefined) return;
      flush(thread);
      const message: ToWorker = { type: 'release', partitions: [partition] };
      thread.worker.postMessage(message);
    },
    setWeights(changed) {
      for (const [partition, weight] of changed) weights.set(partition, weight);
      const byThread = new Map<number, { partition: string; weight: number }[]>();
      for (const [partition, weight] of changed) {
        const index = router.threadFor(partition);
        byThread.set(index, [...(byThread.get(index) ?? []), { partition, weight }]);
      }
      for (const [index, list] of byThread) {
        const thread = threads.get(index);
        if (thread === undefined) continue;
        const message: ToWorker = { type: 'weights', weights: list };
        thread.worker.postMessage(message);
      }
    },
    snapshot: (options) =>
      Promise.all(
        [...threads].map(
          ([index, thread]) =>
            new Promise<{ thread: number; partitions: PartitionSnapshot[] }>((resolve) => {
              const id = nextSnapshot++;
              snapshots.set(id, (partitions) => resolve({ thread: index, partitions }));
              const message: ToWorker = { type: 'snapshot', id, notable: options?.notable };
              thread.worker.postMessage(message);
              // A thread that is gone answers with nothing.
              thread.stopped.then(() => snapshots.get(id)?.([])).catch(() => undefined);
            }),
        ),
      ),
    threads: () => threads.size,
    async stop(timeoutMs) {
      await Promise.all(
        [...threads.values()].map(async (thread) => {
          flush(thread);
          thread.stopping = true;
          const message: ToWorker = { type: 'stop' };
          thread.worker.postMessage(message);
          const timer = setTimeout(() => void thread.worker.terminate(), timeoutMs);
          await thread.stopped;
          clearTimeout(timer);
        }),
      );
      threads.clear();
    },
  };
};
