import type pg from 'pg';

export type ProcessorRow = {
  processorId: string;
  partition: string;
  checkpoint: bigint;
  owner: string | null;
  status: string;
  updatedAt: Date;
};

/** Checkpoint rows of the given processors, or of all when none are named. */
export const readProcessorRows = async (db: pg.Pool, processorIds: string[]): Promise<ProcessorRow[]> => {
  const { rows } = await db.query<{ processor_id: string; partition: string; checkpoint: string; owner: string | null; status: string; last_updated: Date }>(
    `SELECT processor_id, partition, last_processed_checkpoint AS checkpoint, processor_instance_id AS owner, status, last_updated
       FROM emt_processors
      WHERE cardinality($1::text[]) = 0 OR processor_id = ANY($1::text[])
      ORDER BY processor_id, partition`,
    [processorIds],
  );
  return rows.map((row) => ({
    processorId: row.processor_id,
    partition: row.partition,
    checkpoint: BigInt(row.checkpoint),
    owner: row.owner,
    status: row.status,
    updatedAt: row.last_updated,
  }));
};
