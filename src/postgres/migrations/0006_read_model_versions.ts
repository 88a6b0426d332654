import type { Migration } from './migration.ts';

/**
 * The versions of each projector (by the processorId it was declared with): `building` beside the
 * `current` one until it has caught up, then `current` in one transaction (the one before `retired`);
 * `dropped` once its checkpoints and read models are gone. `runtime_id` names the version in every
 * other table (`orders` for version 1, `orders@v2` for version 2); `read_model` is its projection's
 * name (for a Pongo projection, its collection), what the application reads.
 */
export const readModelVersions: Migration = {
  version: 6,
  name: 'read model versions',
  sql: `
CREATE TABLE distributary_read_models (
  processor_id   TEXT        NOT NULL,
  version        INT         NOT NULL,
  runtime_id     TEXT        NOT NULL UNIQUE,
  read_model     TEXT,
  kind           TEXT,
  state          TEXT        NOT NULL CHECK (state IN ('building', 'current', 'retired', 'dropped')),
  registered_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  switched_at    TIMESTAMPTZ,
  PRIMARY KEY (processor_id, version)
);
CREATE UNIQUE INDEX distributary_read_models_current ON distributary_read_models (processor_id) WHERE state = 'current';
`,
};
