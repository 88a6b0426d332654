import type { Migration } from './migration.ts';

/**
 * Tenants removed (a tombstone per partition key): their events stay in the store but are not applied,
 * relayed or consumed until the tenant is restored. `removed_at` is set once the engines have let its
 * partitions go and deleted its checkpoints, weights, dead letters and status (and with `purge` its
 * read-model rows). \`restoring\`: asked to come back; the engine rebuilds its partitions from its events.
 */
export const removedTenants: Migration = {
  version: 5,
  name: 'removed tenants',
  sql: `
CREATE TABLE distributary_removed_tenants (
  partition     TEXT        PRIMARY KEY,
  purge         BOOLEAN     NOT NULL,
  requested_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  removed_at    TIMESTAMPTZ,
  restoring     BOOLEAN     NOT NULL DEFAULT false,
  error         TEXT
);
`,
};
