import type { ErrorInfo } from '../core/errors.ts';
import type { PartitionState } from '../core/partitionScheduler.ts';

export type PartitionStatus = {
  partition: string;
  /** Last committed global position, null before the first commit. */
  checkpoint: bigint | null;
  /** The last of the partition's events delivered here (the checkpoint when nothing is pending). */
  head: bigint | null;
  /** Events delivered to the partition and not applied yet (sent to its thread, or held off while it is stopped). */
  lag: number;
  /** Age of the oldest event not applied yet, since it was appended; 0 when caught up. */
  lagSeconds: number;
  /** When the oldest event not applied yet was appended. */
  oldestUnappliedAt?: Date;
  /** The thread of this host's budget that runs it. */
  thread: number;
  /** `host/processor/thread` that owns the partition on this host. */
  owner: string;
  /** When this host took the partition's lease (hosts sharing partitions over JetStream); absent in-process. */
  since?: Date;
  /** The lease epoch this host holds the partition under. */
  epoch?: number;
  state: PartitionState;
  applied: number;
  deadLettered: number;
  lastError?: ErrorInfo;
};

export type ProjectorStatus = {
  processorId: string;
  /** Every routed event at or below it is committed; a restart reads after it. */
  lowWaterMark: bigint;
  threads: number;
  partitions: PartitionStatus[];
};

/** `member`: one of a group of hosts sharing the partitions (JetStream transport). */
export type EngineRole = 'stopped' | 'standby' | 'active' | 'member';

export type EngineStatus = {
  hostId: string;
  group: string;
  role: EngineRole;
  /** Highest global position the reader has read. */
  readerPosition: bigint | null;
  /** The live hosts of the group, as this host last saw them (JetStream transport). */
  hosts?: string[];
  projectors: ProjectorStatus[];
};
