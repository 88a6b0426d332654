import type { Dumbo } from '@event-driven-io/dumbo';
import type pg from 'pg';
import type { WorkerError } from '../core/errors.ts';
import type { Position } from '../core/position.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { PartitionRouter, StoppedPartition } from './partitionRouter.ts';
import type { EngineRole, ProjectorStatus } from './status.ts';

/** What `whenCaughtUp` resolves with: the partitions it did not wait for (halted or fenced). */
export type CaughtUp = { stopped: StoppedPartition[] };

/** Makes the router of one run of a source (a reader session, a group membership): fresh threads after a failure. */
export type RouterFactory = (hooks: { opensOnDelivery: boolean; onProgress: () => void; onFailure: (error: WorkerError) => void }) => PartitionRouter;

/**
 * Where a host gets its events: the store source reads the event store (one active reader per group),
 * the stream source consumes per-tenant JetStream streams (partitions shared by the hosts of a group).
 * Either delivers partitions' events to a router made by the engine, and nothing else.
 */
export type Source = {
  /** Starts; resolves once the role is settled (active or standby, or member of a group). */
  start(): Promise<void>;
  role(): EngineRole;
  /**
   * Resolves when everything up to `target` is applied by every projector (or those of
   * `processorIds`) on any host, except partitions halted in front of a dead letter or fenced, which
   * it names; rejects at the deadline.
   */
  whenCaughtUp(target: Position, timeoutMs: number, processorIds?: readonly string[]): Promise<CaughtUp>;
  /** The router of the current run, if any (weights and snapshots go through it). */
  router(): PartitionRouter | undefined;
  status(): { readerPosition: bigint | null; hosts?: string[]; projectors: ProjectorStatus[] };
  stop(): Promise<void>;
};

/** What the engine gives a source: its options, the projectors, a way to make routers, the database. */
export type SourceContext<Options> = {
  options: Options;
  projectors: readonly AnyPartitionedProjector[];
  newRouter: RouterFactory;
  db: pg.Pool;
  dumbo: Dumbo;
  onProgress: () => void;
};
