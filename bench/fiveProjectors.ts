import { partitionedProjector } from '../src/index.ts';
import type { ShopEvent } from '../projections/shopEvents.ts';
import { fiveProjections } from './fiveProjections.ts';

/** The five shop projections as distributary projectors, partitioned by tenant, every other option at its default. */
export const fiveProjectors = fiveProjections.map(({ name, projection }) =>
  partitionedProjector<ShopEvent>({ processorId: `five-${name}`, projection, partitionBy: (event) => event.metadata.tenant }),
);
