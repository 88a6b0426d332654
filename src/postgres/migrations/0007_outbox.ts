import type { Migration } from './migration.ts';

/**
 * The reactors' outbox: messages a reactor emitted in the transaction that moved its checkpoint,
 * waiting for a dispatcher; delivered rows are deleted. Per partition they go out in `id` order: only
 * a partition's oldest row is ever claimed. A row that failed every retry moves to the dead letters.
 */
export const outbox: Migration = {
  version: 7,
  name: 'reactor outbox',
  sql: `
CREATE TABLE distributary_outbox (
  id               BIGSERIAL   PRIMARY KEY,
  processor_id     TEXT        NOT NULL,
  partition        TEXT        NOT NULL,
  message_key      TEXT        NOT NULL UNIQUE,
  topic            TEXT        NOT NULL,
  payload          JSONB       NOT NULL,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  attempts         INT         NOT NULL DEFAULT 0,
  next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_error       TEXT
);
CREATE INDEX distributary_outbox_partition_order ON distributary_outbox (partition, id);
CREATE TABLE distributary_outbox_dead_letters (
  id               BIGINT      PRIMARY KEY,
  processor_id     TEXT        NOT NULL,
  partition        TEXT        NOT NULL,
  message_key      TEXT        NOT NULL UNIQUE,
  topic            TEXT        NOT NULL,
  payload          JSONB       NOT NULL,
  created_at       TIMESTAMPTZ NOT NULL,
  attempts         INT         NOT NULL,
  last_error       TEXT,
  dead_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);`,
};
