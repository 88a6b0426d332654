import type { Migration } from './migration.ts';

/**
 * The schema distributary 0.1.0 created (it ran it on every start, without a version). Written to
 * be idempotent rather than detected: applied to a 0.1.0 database it finds every object in place and
 * changes nothing (tables and indexes IF NOT EXISTS, the same function body, the trigger created only
 * when missing), so no guess from which tables exist is needed, which a half-created schema or a
 * table dropped by hand would fool. Frozen: later changes are later steps. The channel is spelled out
 * rather than taken from `MessagesAppendedChannel` for the same reason.
 */
export const initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
-- Partition keys are arbitrary strings: a DEFAULT partition holds their checkpoints instead of a table per key.
CREATE TABLE IF NOT EXISTS emt_processors_distributary PARTITION OF emt_processors DEFAULT;
CREATE TABLE IF NOT EXISTS emt_projections_distributary PARTITION OF emt_projections DEFAULT;

-- Readers walk the store in delivery order: by transaction, then global position.
CREATE INDEX IF NOT EXISTS emt_messages_distributary_delivery_order ON emt_messages (transaction_id, global_position);

CREATE TABLE IF NOT EXISTS distributary_dead_letters (
  id               BIGSERIAL   PRIMARY KEY,
  processor_id     TEXT        NOT NULL,
  partition        TEXT,
  global_position  BIGINT      NOT NULL,
  transaction_id   XID8        NOT NULL,
  stream_name      TEXT,
  message_type     TEXT,
  message_id       TEXT,
  payload          JSONB       NOT NULL,
  error_name       TEXT        NOT NULL,
  error_message    TEXT        NOT NULL,
  error_stack      TEXT,
  attempts         INT         NOT NULL,
  -- what the failure did to the partition: 'halted' (it waits in front of the event) or 'skipped'
  decision         TEXT        NOT NULL,
  -- 'halted' | 'skipped' | 'retry' (asked for) | 'resolved' (applied on retry) | 'discarded'
  status           TEXT        NOT NULL,
  discard_reason   TEXT,
  first_failed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_failed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (processor_id, global_position)
);
CREATE INDEX IF NOT EXISTS distributary_dead_letters_status ON distributary_dead_letters (status, processor_id, partition);

-- Hosts of a group announce themselves; one without a heartbeat for the lease timeout is gone.
CREATE TABLE IF NOT EXISTS distributary_hosts (
  group_name    TEXT             NOT NULL,
  host_id       TEXT             NOT NULL,
  weight        DOUBLE PRECISION NOT NULL DEFAULT 1,
  started_at    TIMESTAMPTZ      NOT NULL DEFAULT clock_timestamp(),
  heartbeat_at  TIMESTAMPTZ      NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (group_name, host_id)
);

-- One lease per (projector, partition). Every acquisition raises the epoch; a commit checks its
-- owner and epoch in the statement that moves the checkpoint (the fencing token).
CREATE TABLE IF NOT EXISTS distributary_partition_owners (
  processor_id  TEXT        NOT NULL,
  partition     TEXT        NOT NULL,
  owner         TEXT        NOT NULL,
  epoch         BIGINT      NOT NULL,
  acquired_at   TIMESTAMPTZ NOT NULL,
  expires_at    TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (processor_id, partition)
);

-- Every acquisition, for "who owned it when" questions after the fact.
CREATE TABLE IF NOT EXISTS distributary_ownership_log (
  processor_id    TEXT        NOT NULL,
  partition       TEXT        NOT NULL,
  epoch           BIGINT      NOT NULL,
  owner           TEXT        NOT NULL,
  previous_owner  TEXT,
  acquired_at     TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (processor_id, partition, epoch)
);

-- Weights of partitions in their thread's fair queuing (1 when absent), set by API or CLI.
CREATE TABLE IF NOT EXISTS distributary_partition_weights (
  processor_id  TEXT             NOT NULL,
  partition     TEXT             NOT NULL,
  weight        DOUBLE PRECISION NOT NULL CHECK (weight > 0),
  updated_at    TIMESTAMPTZ      NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (processor_id, partition)
);

-- What each host's threads are doing, written every few seconds: partitions with events waiting or
-- in flight, or a weight other than 1.
CREATE TABLE IF NOT EXISTS distributary_scheduler_snapshots (
  host_id       TEXT        NOT NULL,
  processor_id  TEXT        NOT NULL,
  thread        INT         NOT NULL,
  taken_at      TIMESTAMPTZ NOT NULL,
  partitions    JSONB       NOT NULL,
  PRIMARY KEY (host_id, processor_id, thread)
);

CREATE OR REPLACE FUNCTION distributary_notify_messages_appended() RETURNS trigger AS $fn$
BEGIN
  PERFORM pg_notify('distributary_messages_appended', '');
  RETURN NULL;
END;
$fn$ LANGUAGE plpgsql;

-- Created only when missing: a database from 0.1.0 keeps the trigger it has.
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'distributary_messages_appended' AND tgrelid = 'emt_messages'::regclass) THEN
    CREATE TRIGGER distributary_messages_appended
      AFTER INSERT ON emt_messages
      FOR EACH STATEMENT EXECUTE FUNCTION distributary_notify_messages_appended();
  END IF;
END;
$do$;
`,
};
