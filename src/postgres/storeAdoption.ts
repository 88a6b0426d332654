import type pg from 'pg';

/** Records how a processor id Emmett ran was taken over; a second record of the same id changes nothing. */
export const storeAdoption = async (
  db: pg.Pool | pg.ClientBase,
  adoption: { processorId: string; version: number; decision: 'emmett-checkpoint' | 'rebuild'; emmettCheckpoint: string; throughTransaction: bigint | null; throughGlobal: bigint },
): Promise<void> => {
  await db.query(
    `INSERT INTO distributary_adoptions (processor_id, version, decision, emmett_checkpoint, through_transaction, through_global)
     VALUES ($1, $2, $3, $4, $5::text::xid8, $6) ON CONFLICT (processor_id, version) DO NOTHING`,
    [adoption.processorId, adoption.version, adoption.decision, adoption.emmettCheckpoint, adoption.throughTransaction?.toString() ?? null, adoption.throughGlobal.toString()],
  );
};
