import { marksOfProcessorSql } from './markIds.ts';
import type pg from 'pg';

export type AdoptionState = {
  /** Emmett's own checkpoint row of the processor id (partition `emt:default`), if any. */
  emmett: { checkpoint: string; transaction: string | null } | null;
  /** Whether distributary has stored anything for it: partition checkpoints or a low-water mark. */
  ownState: boolean;
  /** How distributary took it over, once it has. */
  adopted: { decision: 'emmett-checkpoint' | 'rebuild'; throughTransaction: string | null; throughGlobal: string } | null;
};

/** What a processor id already has in the store: Emmett's checkpoint, distributary's own, an adoption. */
export const readAdoptionState = async (db: pg.Pool | pg.ClientBase, processorId: string, version: number): Promise<AdoptionState> => {
  const { rows } = await db.query<{
    emmett_checkpoint: string | null;
    emmett_transaction: string | null;
    own_state: boolean;
    decision: 'emmett-checkpoint' | 'rebuild' | null;
    through_transaction: string | null;
    through_global: string | null;
  }>(
    `SELECT e.last_processed_checkpoint AS emmett_checkpoint, e.last_processed_transaction_id::text AS emmett_transaction,
            EXISTS (SELECT 1 FROM emt_processors o
                     WHERE (o.processor_id = $1 AND o.partition <> 'emt:default')
                        OR ${marksOfProcessorSql('o.processor_id', '$1')}) AS own_state,
            a.decision, a.through_transaction::text, a.through_global::text
       FROM (SELECT 1) one
       LEFT JOIN emt_processors e ON e.processor_id = $1 AND e.partition = 'emt:default'
       LEFT JOIN distributary_adoptions a ON a.processor_id = $1 AND a.version = $2
      LIMIT 1`,
    [processorId, version],
  );
  const row = rows[0]!;
  return {
    emmett: row.emmett_checkpoint === null ? null : { checkpoint: row.emmett_checkpoint, transaction: row.emmett_transaction },
    ownState: row.own_state,
    adopted: row.decision === null ? null : { decision: row.decision, throughTransaction: row.through_transaction, throughGlobal: row.through_global! },
  };
};
