import type { Dumbo } from '@event-driven-io/dumbo';
import { transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import { ConfigurationError, DistributaryError } from '../core/errors.ts';
import type { AdoptedCheckpoint } from '../core/adoptedCheckpoint.ts';
import { parseCheckpoint } from '../core/checkpointFormat.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { MigrationLockId } from '../postgres/migrate.ts';
import { readAdoptionState } from '../postgres/readAdoptionState.ts';
import { storeAdoption } from '../postgres/storeAdoption.ts';
import type pg from 'pg';

/** A processor id Emmett ran, with nothing of distributary's and no `adopt` option: starting would apply every event again. */
export class AdoptionRequiredError extends DistributaryError {}


/** The text of Emmett's checkpoint as a covered range (its `last_processed_transaction_id` is the storing transaction's, never the event's). */
const coveredBy = (checkpoint: string): AdoptedCheckpoint => {
  const namesItsTransaction = checkpoint.includes(':');
  const position = parseCheckpoint(checkpoint, namesItsTransaction ? undefined : '0');
  return { transaction: namesItsTransaction ? position.tx : null, global: position.global };
};

/**
 * Looks, for each projector, for a checkpoint Emmett wrote under its processor id (`emt:default`)
 * that distributary has not taken over yet. Never applies those events a second time silently: with
 * `adopt: 'emmett-checkpoint'` every partition starts after that checkpoint; with `adopt: 'rebuild'`
 * the projection's read models are truncated and everything is applied from the start; with
 * neither, start() fails saying what was found and both ways out. Hosts starting together take turns.
 * Returns what each adopted projector's checkpoint covers.
 */
export const adoptProjectors = async (
  pool: Dumbo,
  db: pg.Pool,
  connectionString: string,
  projectors: readonly AnyPartitionedProjector[],
): Promise<Map<string, AdoptedCheckpoint>> => {
  const covered = new Map<string, AdoptedCheckpoint>();
  for (const projector of projectors) {
    const { processorId, version } = projector;
    const seen = await readAdoptionState(db, processorId, version);
    if (seen.adopted !== null) {
      if (seen.adopted.decision === 'emmett-checkpoint')
        covered.set(processorId, { transaction: seen.adopted.throughTransaction === null ? null : BigInt(seen.adopted.throughTransaction), global: BigInt(seen.adopted.throughGlobal) });
      continue;
    }
    if (seen.emmett === null || seen.ownState) continue;
    const found = `processor '${processorId}' has Emmett's checkpoint (partition emt:default at '${seen.emmett.checkpoint}') and nothing of distributary's`;
    if (projector.adopt === undefined)
      throw new AdoptionRequiredError(
        `projectionEngine: ${found}: starting would apply every event again. Pass adopt: 'emmett-checkpoint' to partitionedProjector to go on after that checkpoint, ` +
          `or adopt: 'rebuild' to reset its read models (the projection's truncate) and apply every event from the start.`,
      );
    const decision = projector.adopt;
    if (decision === 'rebuild' && projector.projection.truncate === undefined)
      throw new ConfigurationError(`projectionEngine: ${found}; adopt: 'rebuild' needs a projection with truncate, and this one has none`);
    await pool.withTransaction(async (transaction) => {
      const context = await transactionToPostgreSQLProjectionHandlerContext(connectionString, pool, transaction);
      const { client } = context.connection;
      await client.query('SELECT pg_advisory_xact_lock($1)', [MigrationLockId]);
      // Another host may have adopted it meanwhile.
      if ((await readAdoptionState(client, processorId, version)).adopted !== null) return;
      const through = coveredBy(seen.emmett!.checkpoint);
      if (decision === 'rebuild') await projector.projection.truncate!(context);
      await storeAdoption(client, {
        processorId,
        version,
        decision,
        emmettCheckpoint: seen.emmett!.checkpoint,
        throughTransaction: decision === 'rebuild' ? null : through.transaction,
        throughGlobal: decision === 'rebuild' ? 0n : through.global,
      });
    });
    const adopted = (await readAdoptionState(db, processorId, version)).adopted!;
    if (adopted.decision === 'emmett-checkpoint')
      covered.set(processorId, { transaction: adopted.throughTransaction === null ? null : BigInt(adopted.throughTransaction), global: BigInt(adopted.throughGlobal) });
  }
  return covered;
};
