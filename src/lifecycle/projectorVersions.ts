import type pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.ts';
import { ConfigurationError, DistributaryError } from '../core/errors.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { inTransaction } from '../postgres/inTransaction.ts';
import { MigrationLockId } from '../postgres/migrate.ts';
import { makeCurrentIfNone, markVersionDropped, readModelVersions, registerReadModelVersion, switchReadModel, type ReadModelVersion } from '../postgres/readModelVersions.ts';
import { deleteProcessor, renameProcessor } from '../postgres/renameProcessor.ts';

/*
 * Versions side by side. A module may export several versions of one projector (one processorId);
 * each runs under its own id (`orders`, `orders@v2`), with its own checkpoints, its own read models
 * (named apart by the projection) and everything else of its own. The first version a database sees
 * of a projector is current; a later one is building until it has caught up, and then becomes current
 * in one transaction while the version before is retired (it keeps running while the module exports
 * it). The application reads the current version's read model (`engine.readModel`, `readModelOf`), so
 * it never reads one that is empty or half built. A retired version is dropped with `dropVersion`.
 */

const withLock = <T>(db: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> =>
  inTransaction(db, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MigrationLockId]);
    return work(client);
  });

/** Whether what is stored has checkpoints (partitions other than Emmett's `emt:default`) under `id` for `version`. */
const hasCheckpoints = async (client: pg.PoolClient, id: string, version: number): Promise<boolean> =>
  (await client.query("SELECT 1 FROM emt_processors WHERE processor_id = $1 AND version = $2 AND partition <> 'emt:default' LIMIT 1", [id, version])).rowCount === 1;

/**
 * Records the versions of the module's projectors (hosts starting together take turns) and returns
 * every version stored of them. A version that was dropped refuses to start. A later version whose
 * checkpoints were stored under the processorId itself (before versions had ids of their own) takes
 * them, and what else is stored under it, to its own id: nothing applied again.
 */
export const registerVersions = async (db: pg.Pool, projectors: readonly AnyPartitionedProjector[]): Promise<ReadModelVersion[]> =>
  withLock(db, async (client) => {
    const names = [...new Set(projectors.map((projector) => projector.name))];
    for (const name of names) {
      const versions = projectors.filter((projector) => projector.name === name).sort((a, b) => a.version - b.version);
      const stored = await readModelVersions(client, name);
      const readModels = new Set(versions.map((projector) => projector.projection.name ?? projector.processorId));
      if (readModels.size < versions.length)
        throw new ConfigurationError(`projectionEngine: the versions of '${name}' share a read model name: give each its own (Emmett's version option names a Pongo collection <collection>_v<version>)`);
      for (const projector of versions) {
        const known = stored.find((row) => row.version === projector.version);
        if (known?.state === 'dropped')
          throw new ConfigurationError(`projectionEngine: version ${projector.version} of '${name}' was dropped; remove it from the projectors module`);
        if (known !== undefined) continue;
        if (stored.length === 0 && projector.processorId !== name && !(await hasCheckpoints(client, projector.processorId, projector.version)) && (await hasCheckpoints(client, name, projector.version)))
          await renameProcessor(client, name, projector.processorId, projector.version, versions[0]!.version !== 1);
        await registerReadModelVersion(client, {
          processorId: name,
          version: projector.version,
          runtimeId: projector.processorId,
          readModel: projector.projection.name ?? null,
          kind: projector.projection.kind ?? null,
        });
      }
      await makeCurrentIfNone(client, name, versions[0]!.version);
    }
    return readModelVersions(client);
  });

/** Makes a building version current (the current one retired); false when it was not building any more. */
export const switchToVersion = (db: pg.Pool, processorId: string, version: number): Promise<boolean> => withLock(db, (client) => switchReadModel(client, processorId, version));

/** What the application reads for a projector: its current version, or undefined when none was recorded. */
export const readModelOf = async (db: pg.Pool, processorId: string): Promise<ReadModelVersion | undefined> =>
  (await readModelVersions(db, processorId)).find((row) => row.state === 'current');

const PlainIdentifier = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Drops a version that is not current: its checkpoints, marks, dead letters and everything else
 * stored under its id, and, for a Pongo projection, its collection's table (other read models are
 * the application's to drop: the result says so). Stop the hosts that still run it first.
 */
export const dropVersion = async (db: pg.Pool, processorId: string, version: number): Promise<{ droppedTable: string | null }> =>
  withLock(db, async (client) => {
    const row = (await readModelVersions(client, processorId)).find((v) => v.version === version);
    if (row === undefined) throw new DistributaryError(`no version ${version} of '${processorId}' is recorded`);
    if (row.state === 'current') throw new DistributaryError(`version ${version} of '${processorId}' is current: switch to another version before dropping it`);
    if (row.state === 'dropped') return { droppedTable: null };
    await deleteProcessor(client, row.runtimeId, version);
    let droppedTable: string | null = null;
    const sharedWith = (await readModelVersions(client, processorId)).some((other) => other.version !== version && other.state !== 'dropped' && other.readModel === row.readModel);
    const ownsCollection = row.kind === 'emt:projections:postgresql:pongo:multi_stream' || row.kind === 'emt:projections:postgresql:pongo:single_stream';
    if (ownsCollection && !sharedWith && row.readModel !== null && PlainIdentifier.test(row.readModel)) {
      await client.query(`DROP TABLE IF EXISTS "${row.readModel}"`);
      droppedTable = row.readModel;
    }
    await markVersionDropped(client, processorId, version);
    return { droppedTable };
  });


/** How often an engine running a building version looks whether it has caught up. */
export const VersionCheckMs = 1000;

/**
 * While this engine runs versions that are building, looks every `VersionCheckMs` whether everything
 * appended until then is applied by them (by whichever host) with none of their partitions halted,
 * and then makes each current in one transaction: how far the other projectors are does not matter.
 * Ends once none is building or `signal` aborts.
 */
export const followVersions = async (context: {
  db: pg.Pool;
  projectors: readonly AnyPartitionedProjector[];
  /** Resolves once the projectors of `processorIds` applied everything up to the store's last position now, naming their stopped partitions; rejects at the deadline. */
  caughtUp: (timeoutMs: number, processorIds: readonly string[]) => Promise<{ stopped: { processorId: string }[] }>;
  /** Whether this engine does work now (a standby leaves it to the active one). */
  working: () => boolean;
  onSwitch: (version: ReadModelVersion) => void;
  signal: AbortSignal;
}): Promise<void> => {
  const { db, signal } = context;
  while (!signal.aborted) {
    await abortableSleep(VersionCheckMs, signal);
    if (signal.aborted) return;
    try {
      const stored = await readModelVersions(db);
      const building = stored.filter((row) => row.state === 'building' && context.projectors.some((p) => p.processorId === row.runtimeId));
      if (building.length === 0) return;
      if (!context.working()) continue;
      const { stopped } = await context.caughtUp(VersionCheckMs * 5, building.map((row) => row.runtimeId));
      for (const row of building) {
        if (stopped.some((partition) => partition.processorId === row.runtimeId)) continue;
        if (await switchToVersion(db, row.processorId, row.version)) context.onSwitch({ ...row, state: 'current' });
      }
    } catch {
      // Not caught up within the deadline, or the database is away: looked at again next time.
    }
  }
};
