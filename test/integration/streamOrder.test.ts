import { describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type pg from 'pg';
import { projectionEngine, relay, silentLogger, tenantStreamNames, type RelayOptions } from '../../src/index.js';
import { relayProcessorId } from '../../src/jetstream/relaySession.js';
import { consumerConfig } from '../../src/jetstream/streamConsumers.js';
import { useTestDatabase } from '../support/database.js';
import { connectNats, natsUrl, uniqueApp } from '../support/nats.js';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.js';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);

type RelayCheckpoint = { checkpoint: string; tx: string };

const readRelayCheckpoint = async (db: pg.Pool, app: string): Promise<RelayCheckpoint> => {
  const { rows } = await db.query<RelayCheckpoint>(
    `SELECT last_processed_checkpoint AS checkpoint, last_processed_transaction_id::text AS tx FROM emt_processors WHERE processor_id = $1 AND partition = 'emt:default'`,
    [relayProcessorId(app)],
  );
  return rows[0]!;
};

/** Puts the relay's checkpoint back, as if the relay had died after publishing and before storing it. */
const rewindRelay = async (db: pg.Pool, app: string, to: RelayCheckpoint): Promise<void> => {
  await db.query(
    `UPDATE emt_processors SET last_processed_checkpoint = $2, last_processed_transaction_id = $3::xid8 WHERE processor_id = $1 AND partition = 'emt:default'`,
    [relayProcessorId(app), to.checkpoint, to.tx],
  );
};

const runRelay = async (connectionString: string, options: Pick<RelayOptions, 'app' | 'stream'>): Promise<void> => {
  const running = relay({ connectionString, nats: { servers: natsUrl() }, logger: silentLogger, ...options });
  await running.start();
  try {
    await running.whenCaughtUp({ timeoutMs: 60_000 });
  } finally {
    await running.stop();
  }
};

/*
 * Both tests leave the tenant stream holding events that the engine's backfill from the store will
 * not cover (the relay's checkpoint is rewound, as after a relay that died between publishing and
 * storing it), so the engine can only get them from the stream.
 */
describe('stream consumers keep each partition in order', () => {
  const database = useTestDatabase();

  const firstRound = async (connectionString: string, app: string, tenant: string, stream?: RelayOptions['stream']): Promise<RelayCheckpoint> => {
    await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 50, seed: 71, tenantName: () => tenant });
    await runRelay(connectionString, { app, stream });
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
    await engine.start();
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    await engine.stop();
    return readRelayCheckpoint(database.db, app);
  };

  it('holds messages that arrive before an older one that is redelivered, and applies them after it', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const tenant = 'stolen';
    const before = await firstRound(connectionString, app, tenant);
    await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 100, seed: 72, tenantName: () => tenant });
    await runRelay(connectionString, { app });
    await rewindRelay(db, app, before);

    // Someone else takes the next message of the projector's consumer and never acks it.
    const nc = await connectNats();
    const { stream } = tenantStreamNames(app, tenant);
    const durable = consumerConfig({ processorId: 'ledger-hash', batchSize: 100 }).durable_name;
    const stolen = await (await jetstream(nc).consumers.get(stream, durable)).next({ expires: 5000 });
    expect(stolen?.info.streamSequence).toBe(51);
    await nc.close();

    const engine = projectionEngine({
      connectionString,
      projectors,
      logger: silentLogger,
      transport: { type: 'jetstream', servers: natsUrl(), app, ackWaitMs: 2000 },
    });
    await engine.start();
    try {
      await runRelay(connectionString, { app });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
    const check = await connectNats();
    const info = await (await jetstreamManager(check)).consumers.info(stream, durable);
    await check.close();
    // The stolen message came back to the engine after the ack wait: one more delivery than messages.
    expect(info.delivered.consumer_seq).toBeGreaterThan(info.delivered.stream_seq);
    expect(info.ack_floor.stream_seq).toBe(150);
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
  });

  it('reads from the event store what the stream no longer holds, then follows the stream', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const limits = { maxMessages: 10 };
    const tenant = 'retention';
    const before = await firstRound(connectionString, app, tenant, limits);
    await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 100, seed: 73, tenantName: () => tenant });
    await runRelay(connectionString, { app, stream: limits });
    await rewindRelay(db, app, before);
    const nc = await connectNats();
    const { state } = await (await jetstreamManager(nc)).streams.info(tenantStreamNames(app, tenant).stream);
    await nc.close();
    expect(state.first_seq).toBe(141);

    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
    await engine.start();
    try {
      await runRelay(connectionString, { app, stream: limits });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 20, seed: 74, tenantName: () => tenant });
      await runRelay(connectionString, { app, stream: limits });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
  });
});
