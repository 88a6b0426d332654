import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, projectionEngine, silentLogger } from '../../src/index.ts';
import { formatCheckpoint } from '../../src/core/checkpointFormat.ts';
import { comparePositions, type Position } from '../../src/core/position.ts';
import { installedCheckpointFormat } from '../../src/postgres/installedCheckpointFormat.ts';
import { readProcessorRows } from '../../src/postgres/readProcessorRows.ts';
import { resolveRetriedDeadLetters } from '../../src/postgres/resolveRetriedDeadLetters.ts';
import { storeCheckpoint } from '../../src/postgres/storeCheckpoint.ts';
import { useTestDatabase } from '../support/database.ts';
import { appendRounds, positionsOf } from '../support/workload.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);
const processorId = 'ledger-hash';

/** What Emmett 0.43's upgrade does to every checkpoint stored as a bare position: prefixes the transaction of the event at that position. */
const emmettCheckpointUpgradeSQL = `
  UPDATE emt_processors p
     SET last_processed_checkpoint = lpad(m.transaction_id::text, 20, '0') || ':' || p.last_processed_checkpoint
    FROM emt_messages m
   WHERE m.global_position = p.last_processed_checkpoint::bigint AND p.last_processed_checkpoint NOT LIKE '%:%'`;


const globalsInOrder = (positions: Position[]): bigint[] => positions.map((p) => p.global).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

const storedCheckpointText = async (db: pg.Pool, processor: string, partition: string): Promise<string | undefined> =>
  (
    await db.query<{ checkpoint: string }>('SELECT last_processed_checkpoint AS checkpoint FROM emt_processors WHERE processor_id = $1 AND partition = $2', [
      processor,
      partition,
    ])
  ).rows[0]?.checkpoint;

/** A checkpoint row as a stopped engine left it, its text given as SQL over $3 (transaction) and $4 (global position). */
const insertCheckpointRow = async (db: pg.Pool, processor: string, partition: string, position: Position, textSQL: string): Promise<void> => {
  await db.query(
    `INSERT INTO emt_processors (processor_id, partition, version, last_processed_checkpoint, last_processed_transaction_id, processor_instance_id, status, created_at, last_updated)
     VALUES ($1, $2, 1, ${textSQL}, $3::text::xid8, 'stopped-engine', 'running', now(), now())`,
    [processor, partition, position.tx.toString(), position.global.toString()],
  );
};
const oldFormatSQL = "lpad($4::text, 19, '0')";
const newFormatSQL = "lpad($3::text, 20, '0') || ':' || lpad($4::text, 19, '0')";

describe("checkpoints in either of Emmett's formats", () => {
  const database = useTestDatabase();

  it('writes the format of the installed Emmett: bare positions before 0.43, transaction:position from it', async () => {
    const manifest = new URL('../../node_modules/@event-driven-io/emmett-postgresql/package.json', import.meta.url);
    const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
    const [major = 0, minor = 0] = version.split('.').map(Number);
    expect(installedCheckpointFormat, version).toBe(major > 0 || minor >= 43 ? 'transaction:position' : 'position');
  });

  it('resumes every partition exactly after its stored checkpoint, old format, new format, or rewritten by the Emmett upgrade', async () => {
    const { connectionString, db } = database;
    await migrate(connectionString);

    // An engine applies 'upgraded' and stops; then Emmett's upgrade rewrites its checkpoints (partition and mark).
    await appendRounds(connectionString, ['upgraded'], 3);
    const first = projectionEngine({ connectionString, projectors, logger: silentLogger });
    await first.start();
    await first.whenCaughtUp({ timeoutMs: 30_000 });
    await first.stop();
    const upgradedBefore = await positionsOf(db, 'upgraded');
    expect(await storedCheckpointText(db, processorId, 'upgraded')).toBe(formatCheckpoint(upgradedBefore.at(-1)!, installedCheckpointFormat));
    await db.query(emmettCheckpointUpgradeSQL);
    expect(await storedCheckpointText(db, processorId, 'upgraded')).toBe(formatCheckpoint(upgradedBefore.at(-1)!, 'transaction:position'));

    // Two partitions an engine stopped in the middle of: three events applied, their checkpoint at the third.
    await appendRounds(connectionString, ['stored-old', 'stored-new'], 3);
    const checkpoints = new Map<string, Position>([['upgraded', upgradedBefore.at(-1)!]]);
    for (const [tenant, textSQL] of [['stored-old', oldFormatSQL], ['stored-new', newFormatSQL]] as const) {
      const applied = (await positionsOf(db, tenant)).slice(0, 3);
      await insertCheckpointRow(db, processorId, tenant, applied.at(-1)!, textSQL);
      for (const event of applied) await db.query('INSERT INTO ledger_audit (projector, tenant, position) VALUES ($1, $2, $3)', [processorId, tenant, event.global.toString()]);
      checkpoints.set(tenant, applied.at(-1)!);
    }
    expect(await storedCheckpointText(db, processorId, 'stored-new')).toContain(':');

    await appendRounds(connectionString, ['upgraded', 'stored-old', 'stored-new'], 2);
    const restartedAt = (await db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now;
    const second = projectionEngine({ connectionString, projectors, logger: silentLogger });
    await second.start();
    try {
      await second.whenActive({ timeoutMs: 30_000 });
      const { stopped } = await second.whenCaughtUp({ timeoutMs: 30_000 });
      expect(stopped).toEqual([]);
    } finally {
      await second.stop();
    }

    for (const [tenant, checkpoint] of checkpoints) {
      const events = await positionsOf(db, tenant);
      const { rows: audit } = await db.query<{ global: string; before: boolean }>(
        'SELECT position::text AS global, committed_at < $3 AS before FROM ledger_audit WHERE projector = $1 AND tenant = $2 ORDER BY position',
        [processorId, tenant, restartedAt],
      );
      const after = events.filter((event) => comparePositions(event, checkpoint) > 0);
      expect(after.length, tenant).toBe(tenant === 'upgraded' ? 4 : 7);
      // Everything applied once; what the second engine applied is exactly what follows the checkpoint.
      expect(audit.map((row) => BigInt(row.global)), tenant).toEqual(globalsInOrder(events));
      expect(audit.filter((row) => !row.before).map((row) => BigInt(row.global)), tenant).toEqual(globalsInOrder(after));
      // Written back in the format the installed Emmett writes.
      expect(await storedCheckpointText(db, processorId, tenant), tenant).toBe(formatCheckpoint(events.at(-1)!, installedCheckpointFormat));
    }
    const { rows: letters } = await db.query('SELECT processor_id, partition, error_message FROM distributary_dead_letters');
    expect(letters).toEqual([]);
  });

  it('moves a checkpoint stored in the new format from the position it names, and tells why it did not otherwise', async () => {
    const { db } = database;
    await migrate(database.connectionString);
    // Leading zeros in the transaction: 123, which read as octal would be 83.
    const stored: Position = { tx: 123n, global: 42n };
    await insertCheckpointRow(db, 'cas-check', 'p', stored, newFormatSQL);
    const options = { processorId: 'cas-check', partition: 'p', version: 1, instanceId: 'test' };

    expect(await storeCheckpoint(db, { ...options, expected: { tx: 83n, global: 42n }, next: { tx: 124n, global: 50n } })).toEqual({ ok: false, reason: 'MISMATCH' });
    expect(await storeCheckpoint(db, { ...options, expected: { tx: 120n, global: 40n }, next: stored })).toEqual({ ok: false, reason: 'IGNORED' });
    expect(await storeCheckpoint(db, { ...options, expected: { tx: 120n, global: 40n }, next: { tx: 121n, global: 41n } })).toEqual({ ok: false, reason: 'CURRENT_AHEAD' });
    expect(await storedCheckpointText(db, 'cas-check', 'p')).toBe('00000000000000000123:0000000000000000042');

    expect(await storeCheckpoint(db, { ...options, expected: stored, next: { tx: 124n, global: 50n } })).toEqual({ ok: true });
    expect(await storedCheckpointText(db, 'cas-check', 'p')).toBe(formatCheckpoint({ tx: 124n, global: 50n }, installedCheckpointFormat));
  });

  it('resolves a retried dead letter once a checkpoint in either format has passed it, and lists either as its global position', async () => {
    const { db } = database;
    await migrate(database.connectionString);
    await insertCheckpointRow(db, 'resolve-check', 'old', { tx: 123n, global: 42n }, oldFormatSQL);
    await insertCheckpointRow(db, 'resolve-check', 'new', { tx: 123n, global: 142n }, newFormatSQL);
    const letter = async (partition: string, position: Position): Promise<string> =>
      (
        await db.query<{ id: string }>(
          `INSERT INTO distributary_dead_letters (processor_id, partition, global_position, transaction_id, payload, error_name, error_message, attempts, decision, status)
           VALUES ('resolve-check', $1, $2, $3::text::xid8, '{}', 'Error', 'failed', 1, 'halted', 'retry') RETURNING id::text`,
          [partition, position.global.toString(), position.tx.toString()],
        )
      ).rows[0]!.id;
    const passed = [await letter('old', { tx: 123n, global: 42n }), await letter('new', { tx: 123n, global: 142n }), await letter('new', { tx: 100n, global: 99n })];
    const ahead = [await letter('old', { tx: 123n, global: 43n }), await letter('new', { tx: 124n, global: 1n })];

    expect(await resolveRetriedDeadLetters(db)).toBe(passed.length);
    const { rows } = await db.query<{ id: string; status: string }>("SELECT id::text, status FROM distributary_dead_letters WHERE processor_id = 'resolve-check' ORDER BY id");
    expect(rows).toEqual([...passed.map((id) => ({ id, status: 'resolved' })), ...ahead.map((id) => ({ id, status: 'retry' }))]);

    const listed = await readProcessorRows(db, ['resolve-check']);
    expect(listed.map((row) => [row.partition, row.checkpoint])).toEqual([
      ['new', 142n],
      ['old', 42n],
    ]);
  });
});
