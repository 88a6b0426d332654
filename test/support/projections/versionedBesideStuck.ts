import { postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import { partitionedProjector } from '../../../src/index.ts';
import type { ItemAdded } from './ledger.ts';

export { ledgerV1, ledgerV2 } from './versionedLedgers.ts';

/** How long the stuck projector's first batch of tenant-0 takes, on each thread. */
export const StuckMs = 15_000;
let stuck = false;

/** Another projector of the same engine that falls far behind: its first batch of tenant-0 takes StuckMs. */
export const stuckProjector = partitionedProjector<ItemAdded>({
  processorId: 'ledger-stuck',
  projection: postgreSQLProjection<ItemAdded>({
    name: 'ledger-stuck',
    canHandle: ['ItemAdded'],
    handle: async (events) => {
      if (stuck || !events.some((event) => event.metadata.tenant === 'tenant-0')) return;
      stuck = true;
      await new Promise((resolve) => setTimeout(resolve, StuckMs));
    },
  }),
  partitionBy: (event) => event.metadata.tenant as string,
  partitionsPerTransaction: 1,
  onError: { batchTimeoutMs: 60_000 },
});
