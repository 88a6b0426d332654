/*
 * The status model: what the API (`readStatus`), the CLI (`distributary status`), the HTTP endpoints
 * and the dashboard all show. Engines and relays write their part to the database every second (a
 * heartbeat with it); readers combine it with the heartbeats, so a host that stopped or died shows as
 * such within the lease timeout, never as running. Positions are decimal strings (JSON-safe).
 */

/**
 * - `running`: applying, the oldest event waiting is recent;
 * - `catching-up`: applying, the oldest event waiting is older than a few seconds;
 * - `idle`: nothing waiting;
 * - `retrying`: the last attempt at a batch failed, another is due;
 * - `halted`: stopped in front of a dead letter until it is retried or discarded;
 * - `fenced`: this owner lost the partition to another;
 * - `no live owner`: the host that last owned it stopped or stopped sending heartbeats.
 */
export type PartitionHealth = 'running' | 'catching-up' | 'idle' | 'retrying' | 'halted' | 'fenced' | 'no live owner';

export type PartitionView = {
  processorId: string;
  partition: string;
  /** Global position of the last event applied; null before the first. */
  checkpoint: string | null;
  /** The store's head for this partition: the last of its events its owner has seen. */
  head: string | null;
  /** Events of this partition seen and not applied yet. */
  lagEvents: number;
  /** Age of the oldest event not applied yet (since it was appended); 0 when caught up. */
  lagSeconds: number;
  state: PartitionHealth;
  /** `leasedSince` and `leaseEpoch`: over JetStream, when the owner took the partition's lease and under which epoch. */
  owner: { hostId: string; thread: number; alive: boolean; heartbeatAgeSeconds: number; leasedSince?: string; leaseEpoch?: number } | null;
  /** Events applied by its current owner since that owner started. */
  applied: number;
  /** Dead letters of the partition still open (halted, skipped or waiting for a retry). */
  deadLetters: number;
  /** Its weight in fair queuing (1 unless set). */
  weight: number;
  lastError?: string;
  /** When its owner last wrote it. */
  updatedAt: string;
};

export type ProjectorView = {
  processorId: string;
  partitions: number;
  lagEvents: number;
  /** The largest lag in seconds of its partitions. */
  maxLagSeconds: number;
  applied: number;
  deadLetters: number;
  /** Partitions per state. */
  states: Partial<Record<PartitionHealth, number>>;
};

export type HostView = {
  hostId: string;
  group: string;
  role: string;
  transport: 'in-process' | 'jetstream';
  threads: number;
  /** Partitions it owns, over all projectors. */
  partitions: number;
  rssBytes: number;
  alive: boolean;
  heartbeatAgeSeconds: number;
  startedAt: string;
  /** Set when it stopped cleanly. */
  stoppedAt?: string;
};

export type RelayView = {
  app: string;
  hostId: string;
  /** Global position of the last event published. */
  position: string | null;
  /** The event store's last global position. */
  storeHead: string | null;
  lagEvents: number;
  /** Age of the oldest event not published yet; 0 when caught up. */
  lagSeconds: number;
  /** Tenant streams it has published to. */
  streams: number;
  published: number;
  alive: boolean;
  heartbeatAgeSeconds: number;
  stoppedAt?: string;
};

/**
 * - `requested`: asked for; the host reading the store for the projector starts it within a mark interval;
 * - `running`: its read models were reset and its events are being replayed;
 * - `done`: replayed through the store's head at its start;
 * - `failed`: not carried out (`error` says why, e.g. a projector without `truncatePartition`).
 */
export type RebuildStatus = 'requested' | 'running' | 'done' | 'failed';

export type RebuildView = {
  id: string;
  processorId: string;
  /** The partition rebuilt; null when the whole projector is. */
  partition: string | null;
  status: RebuildStatus;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The store's head (global position) when it started: it is done once replayed through it. */
  through: string | null;
  /** While running: the partition's checkpoint, or for a whole projector its lowest low-water mark; null before the first commit. */
  position: string | null;
  /**
   * From 0 to 1: how far `position` has come from the store's first event to `through`, in global
   * positions, not in events (a partition's events cannot be counted without reading them all).
   * A partition's last event usually lies before `through`, so its rebuild may end short of 1.
   * 0 while requested, 1 once done, null when it failed.
   */
  progress: number | null;
  /** Events it applied; counted when it ends. */
  replayed: number;
  error: string | null;
};

export type StatusModel = {
  takenAt: string;
  hosts: HostView[];
  projectors: ProjectorView[];
  /** Most lag first (seconds, then events). */
  partitions: PartitionView[];
  relays: RelayView[];
  /** Rebuilds requested or running, and those finished in the last hour; newest first. */
  rebuilds: RebuildView[];
  /** Versions of the projectors that have more than one (one building beside the current one, or retired ones). */
  versions: VersionView[];
};

export type VersionView = {
  processorId: string;
  version: number;
  state: 'building' | 'current' | 'retired' | 'dropped';
  /** The id the version runs as: its partitions in `partitions` are under it. */
  runtimeId: string;
  readModel: string | null;
  switchedAt: string | null;
};
