import type { Migration } from './migration.ts';

/**
 * Rebuilds asked for (by the API, the command or the dashboard, from any machine) and carried out by
 * whichever host owns the work: one partition (`partition` set) or a whole projector (null).
 */
export const rebuilds: Migration = {
  version: 4,
  name: 'rebuilds',
  sql: `
CREATE TABLE distributary_rebuilds (
  id            BIGSERIAL   PRIMARY KEY,
  processor_id  TEXT        NOT NULL,
  partition     TEXT,
  status        TEXT        NOT NULL CHECK (status IN ('requested', 'running', 'done', 'failed')),
  requested_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  started_at    TIMESTAMPTZ,
  finished_at   TIMESTAMPTZ,
  through       BIGINT,
  replayed      BIGINT      NOT NULL DEFAULT 0,
  error         TEXT
);
CREATE INDEX distributary_rebuilds_open ON distributary_rebuilds (processor_id) WHERE status IN ('requested', 'running');
`,
};
