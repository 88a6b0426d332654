import type pg from 'pg';
import type { Logger } from '../core/logger.ts';
import type { ProjectorStatus } from '../router/status.ts';
import { storeHostStatus, type HostStatusRow } from '../postgres/storeHostStatus.ts';
import { storePartitionStatus, type PartitionStatusRow } from '../postgres/storePartitionStatus.ts';

/** How often a host writes its status and heartbeat. */
export const StatusEveryMs = 1000;

export type StatusWriter = {
  /** Writes at once, then every `StatusEveryMs`. */
  start(): void;
  /** Writes now (after the writes already under way). */
  flush(): Promise<void>;
  /** Writes a last time, marking the host stopped: readers show its partitions without a live owner at once. */
  stop(): Promise<void>;
};

const rowsOf = (projectors: readonly ProjectorStatus[], appliedOf: (processorId: string, partition: string) => number): PartitionStatusRow[] =>
  projectors.flatMap(({ processorId, partitions }) =>
    partitions.map((p) => ({
      processorId,
      partition: p.partition,
      thread: p.thread,
      leasedSince: p.since ?? null,
      leaseEpoch: p.epoch ?? null,
      checkpoint: p.checkpoint,
      head: p.head,
      lagEvents: p.lag,
      oldestUnappliedAt: p.oldestUnappliedAt ?? null,
      state: p.state,
      applied: appliedOf(processorId, p.partition),
      lastError: p.lastError?.message ?? null,
    })),
  );

/** What makes a row worth writing again (the lag in seconds is computed by readers from `oldestUnappliedAt`). */
const signature = (row: PartitionStatusRow): string =>
  `${row.thread}|${row.leaseEpoch}|${row.checkpoint}|${row.head}|${row.lagEvents}|${row.oldestUnappliedAt?.getTime()}|${row.state}|${row.applied}|${row.lastError}`;

/**
 * Writes this host's heartbeat with what it runs, and the partitions whose status changed since the
 * last write: only the partitions touched since then are looked at (all of them on the first write
 * of a session, and again every minute, so a row another owner overwrote during a hand-over comes
 * back). A failed write is logged once per outage and tried again on the next tick; the engine does
 * not depend on it.
 */
export const statusWriter = (context: {
  db: pg.Pool;
  host: () => Omit<HostStatusRow, 'partitions' | 'rssBytes' | 'stopped'>;
  /**
   * The partitions' status: all of them, or with `changedAfter` only those changed since that
   * `changes().version`.
   */
  projectors: (changedAfter?: number) => readonly ProjectorStatus[];
  /**
   * Where the partitions' status stands: `version` grows whenever a partition's may have changed,
   * within a `session` (a router, a role); a new session is written whole.
   */
  changes: () => { session: string; version: number };
  /** Partitions on this host. */
  partitionCount: () => number;
  /** Events applied per partition since the engine started (a router's own count starts again with each session). */
  applied: (processorId: string, partition: string) => number;
  logger: Logger;
}): StatusWriter => {
  const { db, logger } = context;
  let written = new Map<string, string>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let writing: Promise<void> = Promise.resolve();
  let failing = false;
  let lastFull = 0;

  let writtenSession: string | undefined;
  let writtenVersion = -1;

  const write = async (stopped: boolean): Promise<void> => {
    const { session, version } = context.changes();
    const full = Date.now() - lastFull > 60_000 || session !== writtenSession;
    // Nothing delivered or reported since the last write: the heartbeat alone (lag in seconds is the readers' sum).
    if (!full && !stopped && version === writtenVersion) return heartbeat(false);
    const changed: { row: PartitionStatusRow; key: string; value: string }[] = [];
    for (const row of rowsOf(context.projectors(full ? undefined : writtenVersion), context.applied)) {
      const key = `${row.processorId}\u0000${row.partition}`;
      const value = signature(row);
      if (full || written.get(key) !== value) changed.push({ row, key, value });
    }
    try {
      await storePartitionStatus(db, context.host().hostId, changed.map(({ row }) => row));
      if (full) written = new Map();
      for (const { key, value } of changed) written.set(key, value);
      writtenSession = session;
      writtenVersion = version;
      if (full) lastFull = Date.now();
    } catch (error) {
      return failed(error);
    }
    await heartbeat(stopped);
  };

  const failed = (error: unknown): void => {
    if (!failing) logger.warn(`status: could not write this host's status: ${(error as Error).message}`, { error: (error as Error).message });
    failing = true;
  };

  const heartbeat = async (stopped: boolean): Promise<void> => {
    try {
      await storeHostStatus(db, { ...context.host(), partitions: context.partitionCount(), rssBytes: process.memoryUsage.rss(), stopped });
      if (failing) logger.info('status: writing again');
      failing = false;
    } catch (error) {
      failed(error);
    }
  };

  const tick = (): void => {
    writing = writing.then(() => write(false));
  };

  return {
    start() {
      tick();
      timer = setInterval(tick, StatusEveryMs);
      timer.unref();
    },
    flush() {
      tick();
      return writing;
    },
    async stop() {
      clearInterval(timer);
      await writing;
      await write(true);
    },
  };
};
