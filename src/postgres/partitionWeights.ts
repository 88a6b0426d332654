import type pg from 'pg';
import { ConfigurationError } from '../core/errors.ts';

export type PartitionWeight = { processorId: string; partition: string; weight: number };

/** Stores a partition's weight for every host running the projector (1 is the default). */
export const storePartitionWeight = async (db: pg.Pool, { processorId, partition, weight }: PartitionWeight): Promise<void> => {
  if (typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight))
    throw new ConfigurationError(`a partition weight must be a positive number, got ${String(weight)}`);
  await db.query(
    `INSERT INTO distributary_partition_weights (processor_id, partition, weight) VALUES ($1, $2, $3)
     ON CONFLICT (processor_id, partition) DO UPDATE SET weight = EXCLUDED.weight, updated_at = clock_timestamp()`,
    [processorId, partition, weight],
  );
};

/**
 * Follows the weights table: each call returns the weights changed since the previous one (all of
 * them the first time), per projector.
 */
export const partitionWeightChanges = (db: pg.Pool, processorIds: readonly string[]) => {
  let seen: Date | null = null;
  return async (): Promise<Map<string, Map<string, number>>> => {
    const { rows } = await db.query<{ processor_id: string; partition: string; weight: number; updated_at: Date }>(
      `SELECT processor_id, partition, weight, updated_at FROM distributary_partition_weights
        WHERE processor_id = ANY($1::text[]) AND ($2::timestamptz IS NULL OR updated_at > $2)`,
      [processorIds, seen],
    );
    const changes = new Map<string, Map<string, number>>();
    for (const row of rows) {
      if (seen === null || row.updated_at > seen) seen = row.updated_at;
      let forProjector = changes.get(row.processor_id);
      if (forProjector === undefined) changes.set(row.processor_id, (forProjector = new Map<string, number>()));
      forProjector.set(row.partition, row.weight);
    }
    return changes;
  };
};

export const listPartitionWeights = async (db: pg.Pool, processorId?: string): Promise<PartitionWeight[]> => {
  const { rows } = await db.query<{ processor_id: string; partition: string; weight: number }>(
    'SELECT processor_id, partition, weight FROM distributary_partition_weights WHERE $1::text IS NULL OR processor_id = $1 ORDER BY processor_id, partition',
    [processorId ?? null],
  );
  return rows.map((row) => ({ processorId: row.processor_id, partition: row.partition, weight: row.weight }));
};
