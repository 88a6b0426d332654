import type pg from 'pg';
import { partitionWeightChanges } from '../postgres/partitionWeights.ts';
import { storeSchedulerSnapshots } from '../postgres/schedulerSnapshots.ts';
import type { PartitionRouter } from './partitionRouter.ts';

/** How often a host writes its scheduler snapshot for `distributary scheduler snapshot`. */
export const SnapshotEveryMs = 2000;

/**
 * Run on every round of a source: applies partition weights changed in the database (by any host's
 * API or the CLI) to this host's threads, and every couple of seconds stores its scheduler snapshot.
 */
export const schedulerUpkeep = (db: pg.Pool, hostId: string, router: PartitionRouter) => {
  const changes = partitionWeightChanges(
    db,
    router.projectors.map((projector) => projector.processorId),
  );
  let snapshotAt = 0;
  return async (): Promise<void> => {
    for (const [processorId, weights] of await changes()) router.setWeights(processorId, weights);
    if (Date.now() - snapshotAt < SnapshotEveryMs) return;
    snapshotAt = Date.now();
    await storeSchedulerSnapshots(db, hostId, await router.snapshot({ notable: true }));
  };
};
