import type { Migration } from './migration.ts';

/**
 * How distributary took over a processor id that Emmett had run (its `emt:default` checkpoint row):
 * from that checkpoint, or rebuilt from the start. Recorded once, so a later start neither asks again
 * nor rebuilds again, and events the adopted checkpoint covers are never applied a second time.
 */
export const adoptions: Migration = {
  version: 3,
  name: 'adoptions',
  sql: `
CREATE TABLE distributary_adoptions (
  processor_id        TEXT        NOT NULL,
  version             INT         NOT NULL,
  decision            TEXT        NOT NULL CHECK (decision IN ('emmett-checkpoint', 'rebuild')),
  emmett_checkpoint   TEXT        NOT NULL,
  through_transaction XID8,
  through_global      BIGINT      NOT NULL,
  adopted_at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (processor_id, version)
);
`,
};
