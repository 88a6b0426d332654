import { initial } from './0001_initial.ts';
import type { Migration } from './migration.ts';
import { status } from './0002_status.ts';
import { adoptions } from './0003_adoptions.ts';
import { rebuilds } from './0004_rebuilds.ts';
import { removedTenants } from './0005_removed_tenants.ts';
import { readModelVersions } from './0006_read_model_versions.ts';
import { outbox } from './0007_outbox.ts';

/** Every step, in the order they apply. A step once released never changes; a change is a new step. */
export const migrations: readonly Migration[] = [initial, status, adoptions, rebuilds, removedTenants, readModelVersions, outbox];
