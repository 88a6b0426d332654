import { partitionedProjector } from '../src/index.ts';
import type { ShopEvent } from '../projections/shopEvents.ts';
import { cartDetailsProjection, tenantSalesTotalsProjection } from './fiveProjections.ts';

// Two projectors, so that start loads the module in the engine and its threads and runs both inits; every option at its default.

export const startupCartDetails = partitionedProjector<ShopEvent>({
  processorId: 'startup-cart-details',
  projection: cartDetailsProjection,
  partitionBy: (event) => event.metadata.tenant,
});

export const startupTenantSales = partitionedProjector<ShopEvent>({
  processorId: 'startup-tenant-sales',
  projection: tenantSalesTotalsProjection,
  partitionBy: (event) => event.metadata.tenant,
});
