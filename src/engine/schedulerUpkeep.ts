import type pg from 'pg';
import { partitionWeightChanges } from '../postgres/partitionWeights.ts';
import { storeSchedulerSnapshots } from '../postgres/schedulerSnapshots.ts';
import type { ProjectorRuntime } from './projectorRuntime.ts';

/** Every thread's scheduler snapshot of the given projectors, named by projector. */
export const snapshotRuntimes = async (runtimes: readonly ProjectorRuntime[], options?: { notable?: boolean }) =>
  (await Promise.all(runtimes.map(async (runtime) => (await runtime.snapshot(options)).map((thread) => ({ processorId: runtime.projector.processorId, ...thread }))))).flat();

/** How often a host writes its scheduler snapshot for `distributary scheduler snapshot`. */
export const SnapshotEveryMs = 2000;

/**
 * Run on every round of a session: applies partition weights changed in the database (by any host's
 * API or the CLI) to this host's threads, and every couple of seconds stores its scheduler snapshot.
 */
export const schedulerUpkeep = (db: pg.Pool, hostId: string, runtimes: readonly ProjectorRuntime[]) => {
  const changes = partitionWeightChanges(
    db,
    runtimes.map((runtime) => runtime.projector.processorId),
  );
  let snapshotAt = 0;
  return async (): Promise<void> => {
    for (const [processorId, weights] of await changes()) runtimes.find((runtime) => runtime.projector.processorId === processorId)?.setWeights(weights);
    if (Date.now() - snapshotAt < SnapshotEveryMs) return;
    snapshotAt = Date.now();
    await storeSchedulerSnapshots(db, hostId, await snapshotRuntimes(runtimes, { notable: true }));
  };
};
