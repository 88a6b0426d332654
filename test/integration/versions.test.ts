import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readStatus } from '../../src/status/readStatus.ts';
import { projectionEngine, projectorVersions, relay, silentLogger } from '../../src/index.ts';
import { natsUrl, uniqueApp } from '../support/nats.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { StuckMs } from '../support/projections/versionedBesideStuck.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals, type Totals } from '../support/workload.ts';

const moduleUrl = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const cli = (connectionString: string, ...args: string[]) => spawnSync(process.execPath, [main, ...args, '--database-url', connectionString], { encoding: 'utf8' });
const itemsOf = (totals: Totals): number => [...totals.values()].reduce((sum, { items }) => sum + items, 0);

describe('versions side by side', () => {
  const database = useTestDatabase();

  it('builds a new version beside the current one, which keeps serving and updating, and switches once it caught up; the old one is then dropped', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 8, carts: 40, events: 3000, seed: 7 });
    const first = projectionEngine({ connectionString, projectors: moduleUrl('versionedLedgerV1'), logger: silentLogger });
    await first.start();
    await first.whenCaughtUp({ timeoutMs: 60_000 });
    expect(await first.readModel('ledger-versioned')).toMatchObject({ version: 1, readModel: 'ledger-versioned', state: 'current', runtimeId: 'ledger-versioned' });
    await first.stop();

    const backlog = itemsOf(await foldFromStore(db));
    const both = projectionEngine({ connectionString, projectors: moduleUrl('versionedLedgers'), logger: silentLogger });
    await both.start();
    try {
      // Right after start the app still reads version 1; version 2 builds beside it under its own id.
      expect(await both.readModel('ledger-versioned')).toMatchObject({ version: 1, readModel: 'ledger-versioned' });
      const versions = projectorVersions({ connectionString });
      try {
        expect((await versions.list('ledger-versioned')).map((v) => [v.version, v.runtimeId, v.state])).toEqual([
          [1, 'ledger-versioned', 'current'],
          [2, 'ledger-versioned@v2', 'building'],
        ]);
      } finally {
        await versions.close();
      }
      // Live events while it builds: version 1 applies them too.
      let appending = true;
      let seed = 100;
      const live = (async () => {
        while (appending) await appendLedgerEvents(connectionString, { tenants: 8, carts: 40, events: 40, seed: seed++ });
      })();
      let seenV2: Totals | undefined;
      await waitUntil('version 2 became current', async () => {
        if ((await both.readModel('ledger-versioned')).version !== 2) return false;
        seenV2 = await readModelTotals(db, 'ledger-versioned_v2');
        return true;
      }, 60_000, 10);
      appending = false;
      await live;
      // When the app was first told to read version 2, it held at least the whole backlog: never empty or half built.
      expect(itemsOf(seenV2!)).toBeGreaterThanOrEqual(backlog);
      await both.whenCaughtUp({ timeoutMs: 60_000 });
      const fold = await foldFromStore(db);
      expect(itemsOf(fold)).toBeGreaterThan(backlog);
      expect(await readModelTotals(db, 'ledger-versioned_v2')).toEqual(fold);
      expect(await readModelTotals(db, 'ledger-versioned')).toEqual(fold);
      expect(await fifoViolations(db, 'ledger-versioned_v2')).toEqual([]);
      expect(await both.readModel('ledger-versioned')).toMatchObject({ version: 2, readModel: 'ledger-versioned_v2', state: 'current', runtimeId: 'ledger-versioned@v2' });
    } finally {
      await both.stop();
    }

    const listed = cli(connectionString, 'versions', 'list', 'ledger-versioned');
    expect(listed.stdout).toMatch(/^ledger-versioned\s+1\s+retired\s+ledger-versioned\s+ledger-versioned\s/m);
    expect(listed.stdout).toMatch(/^ledger-versioned\s+2\s+current\s+ledger-versioned_v2\s+ledger-versioned@v2\s/m);
    // The status asked for by a later version's id lists its projector's versions too.
    expect((await readStatus(database.db, { processorId: 'ledger-versioned@v2' })).versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'retired'],
      [2, 'current'],
    ]);
    const unconfirmed = cli(connectionString, 'versions', 'drop', 'ledger-versioned', '1');
    expect(unconfirmed.status).toBe(2);
    expect(unconfirmed.stderr).toMatch(/add --yes to do it/);
    const current = cli(connectionString, 'versions', 'drop', 'ledger-versioned', '2', '--yes');
    expect(current.status).toBe(1);
    expect(current.stderr).toMatch(/version 2 of 'ledger-versioned' is current/);
    const versions = projectorVersions({ connectionString });
    try {
      await expect(versions.drop('ledger-versioned', 2)).rejects.toThrow(/version 2 of 'ledger-versioned' is current/);
      // Not a Pongo collection: its rows are the application's to delete; its checkpoints are gone.
      expect(await versions.drop('ledger-versioned', 1)).toEqual({ droppedTable: null });
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM emt_processors WHERE processor_id = 'ledger-versioned' AND version = 1");
      expect(rows[0]!.n).toBe(0);
      expect((await versions.list('ledger-versioned')).map((v) => [v.version, v.state])).toEqual([
        [1, 'dropped'],
        [2, 'current'],
      ]);
    } finally {
      await versions.close();
    }
    // A module still exporting the dropped version is refused; without it, version 2 goes on from its checkpoints.
    await expect(projectionEngine({ connectionString, projectors: moduleUrl('versionedLedgers'), logger: silentLogger }).start()).rejects.toThrow(/version 1 of 'ledger-versioned' was dropped/);
    await appendLedgerEvents(connectionString, { tenants: 8, carts: 40, events: 200, seed: 999 });
    const last = projectionEngine({ connectionString, projectors: moduleUrl('versionedLedgerV2'), logger: silentLogger });
    await last.start();
    try {
      await last.whenCaughtUp({ timeoutMs: 60_000 });
      // The audit's unique (projector, tenant, position) would have halted a partition applying anything twice.
      expect(last.status().projectors[0]!.partitions.every((p) => p.state !== 'halted')).toBe(true);
      expect(await readModelTotals(db, 'ledger-versioned_v2')).toEqual(await foldFromStore(db));
    } finally {
      await last.stop();
    }
  });

  it('moves the checkpoints of a projector declared at version 2 before versions had ids of their own to its id, applying nothing again', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 4, carts: 20, events: 600, seed: 31 });
    const projectors = moduleUrl('legacyVersionedLedger');
    const before = projectionEngine({ connectionString, projectors, logger: silentLogger, reader: { markIntervalMs: 100 } });
    await before.start();
    await before.whenCaughtUp({ timeoutMs: 60_000 });
    await before.stop();
    // What the release before stored: everything under the declared id, and no versions recorded.
    await db.query("UPDATE emt_processors SET processor_id = 'ledger-legacy' WHERE processor_id = 'ledger-legacy@v2'");
    await db.query("UPDATE emt_processors SET processor_id = replace(processor_id, ':ledger-legacy@v2', ':ledger-legacy') WHERE processor_id LIKE 'distributary:mark:%'");
    await db.query("UPDATE distributary_partition_status SET processor_id = 'ledger-legacy' WHERE processor_id = 'ledger-legacy@v2'");
    await db.query("DELETE FROM distributary_read_models WHERE processor_id = 'ledger-legacy'");
    // Emmett's own processor row under the same id is Emmett's, and stays where it is.
    await db.query(
      `INSERT INTO emt_processors (processor_id, partition, version, last_processed_checkpoint, last_processed_transaction_id, processor_instance_id, status, created_at, last_updated)
       VALUES ('ledger-legacy', 'emt:default', 2, '0000000000000000001', '1'::xid8, 'emmett', 'stopped', now(), now())`,
    );

    await appendLedgerEvents(connectionString, { tenants: 4, carts: 20, events: 100, seed: 32 });
    const after = projectionEngine({ connectionString, projectors, logger: silentLogger });
    await after.start();
    try {
      await after.whenCaughtUp({ timeoutMs: 60_000 });
      // Applying an event twice would have hit the audit's unique (projector, tenant, position) and halted.
      expect(after.status().projectors[0]!.partitions.filter((p) => p.state === 'halted')).toEqual([]);
      expect(await readModelTotals(db, 'ledger-legacy')).toEqual(await foldFromStore(db));
      const { rows } = await db.query<{ id: string }>("SELECT DISTINCT processor_id AS id FROM emt_processors WHERE processor_id LIKE '%ledger-legacy%' AND processor_id NOT LIKE 'distributary:mark:%'");
      expect(rows.map((row) => row.id).sort()).toEqual(['ledger-legacy', 'ledger-legacy@v2']);
      const { rows: emmetts } = await db.query<{ partition: string }>("SELECT partition FROM emt_processors WHERE processor_id = 'ledger-legacy'");
      expect(emmetts).toEqual([{ partition: 'emt:default' }]);
      const { rows: status } = await db.query<{ id: string }>("SELECT DISTINCT processor_id AS id FROM distributary_partition_status WHERE processor_id LIKE 'ledger-legacy%'");
      expect(status.map((row) => row.id)).toEqual(['ledger-legacy@v2']);
    } finally {
      await after.stop();
    }
  });

  it('builds and switches a new version over JetStream too, where it consumes the tenant streams with durable consumers of its own', async () => {
    const { connectionString, db } = database;
    await db.query("DELETE FROM ledger_totals WHERE projector LIKE 'ledger-versioned%'");
    await db.query("DELETE FROM ledger_audit WHERE projector LIKE 'ledger-versioned%'");
    await db.query("DELETE FROM emt_processors WHERE processor_id LIKE '%ledger-versioned%'");
    await db.query("DELETE FROM distributary_read_models WHERE processor_id = 'ledger-versioned'");
    const app = uniqueApp();
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    const transport = { type: 'jetstream' as const, servers: natsUrl(), app };
    await shopRelay.start();
    try {
      const first = projectionEngine({ connectionString, projectors: moduleUrl('versionedLedgerV1'), logger: silentLogger, transport });
      await first.start();
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await first.whenCaughtUp({ timeoutMs: 60_000 });
      await first.stop();
      const both = projectionEngine({ connectionString, projectors: moduleUrl('versionedLedgers'), logger: silentLogger, transport });
      await both.start();
      try {
        expect(await both.readModel('ledger-versioned')).toMatchObject({ version: 1 });
        await appendLedgerEvents(connectionString, { tenants: 8, carts: 40, events: 300, seed: 77 });
        await waitUntil('version 2 became current over JetStream', async () => (await both.readModel('ledger-versioned')).version === 2, 60_000, 50);
        await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
        await both.whenCaughtUp({ timeoutMs: 60_000 });
        const fold = await foldFromStore(db);
        expect(await readModelTotals(db, 'ledger-versioned_v2')).toEqual(fold);
        expect(await readModelTotals(db, 'ledger-versioned')).toEqual(fold);
        expect(await fifoViolations(db, 'ledger-versioned_v2')).toEqual([]);
      } finally {
        await both.stop();
      }
    } finally {
      await shopRelay.stop();
    }
  });
});

describe('versions beside a projector far behind', () => {
  const database = useTestDatabase();

  it('switches a version once it caught up, however far behind another projector of the same engine is', async () => {
    const { connectionString } = database;
    await appendLedgerEvents(connectionString, { tenants: 4, carts: 20, events: 400, seed: 11 });
    const first = projectionEngine({ connectionString, projectors: moduleUrl('versionedLedgerV1'), logger: silentLogger });
    await first.start();
    await first.whenCaughtUp({ timeoutMs: 60_000 });
    await first.stop();

    const engine = projectionEngine({ connectionString, projectors: moduleUrl('versionedBesideStuck'), logger: silentLogger });
    const started = Date.now();
    await engine.start();
    try {
      await waitUntil('version 2 became current', async () => (await engine.readModel('ledger-versioned')).version === 2, 60_000, 50);
      // ledger-stuck has been busy with one batch all along, and still is: it held nothing up.
      expect(Date.now() - started).toBeLessThan(StuckMs);
      const stuck = engine.status().projectors.find((p) => p.processorId === 'ledger-stuck')!;
      expect(stuck.partitions.find((p) => p.partition === 'tenant-0')?.lag).toBeGreaterThan(0);
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
  });
});
