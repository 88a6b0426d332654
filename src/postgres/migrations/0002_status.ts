import type { Migration } from './migration.ts';

/**
 * The status engines and relays write every second, with their heartbeats: readers (the CLI, the
 * dashboard, `readStatus`) judge a host alive from `heartbeat_at` and `alive_for_ms`, never from the
 * last state a host wrote. One row per partition, written by its latest owner.
 */
export const status: Migration = {
  version: 2,
  name: 'status',
  sql: `
CREATE TABLE distributary_engine_hosts (
  host_id       TEXT        PRIMARY KEY,
  group_name    TEXT        NOT NULL,
  role          TEXT        NOT NULL,
  transport     TEXT        NOT NULL,
  threads       INT         NOT NULL,
  partitions    INT         NOT NULL DEFAULT 0,
  rss_bytes     BIGINT      NOT NULL DEFAULT 0,
  alive_for_ms  INT         NOT NULL,
  started_at    TIMESTAMPTZ NOT NULL,
  heartbeat_at  TIMESTAMPTZ NOT NULL,
  stopped_at    TIMESTAMPTZ
);

CREATE TABLE distributary_partition_status (
  processor_id        TEXT        NOT NULL,
  partition           TEXT        NOT NULL,
  host_id             TEXT        NOT NULL,
  thread              INT         NOT NULL,
  leased_since        TIMESTAMPTZ,
  lease_epoch         BIGINT,
  checkpoint          BIGINT,
  head                BIGINT,
  lag_events          BIGINT      NOT NULL,
  oldest_unapplied_at TIMESTAMPTZ,
  state               TEXT        NOT NULL,
  applied             BIGINT      NOT NULL,
  last_error          TEXT,
  updated_at          TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (processor_id, partition)
);

CREATE TABLE distributary_relay_status (
  app           TEXT        PRIMARY KEY,
  host_id       TEXT        NOT NULL,
  position      BIGINT,
  streams       INT         NOT NULL,
  published     BIGINT      NOT NULL,
  alive_for_ms  INT         NOT NULL,
  started_at    TIMESTAMPTZ NOT NULL,
  heartbeat_at  TIMESTAMPTZ NOT NULL,
  stopped_at    TIMESTAMPTZ
);
`,
};
