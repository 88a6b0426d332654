import type pg from 'pg';
import { parseCheckpoint } from '../core/checkpointFormat.ts';

export type ProcessorRow = {
  processorId: string;
  partition: string;
  /** The global position of the checkpoint, whichever of Emmett's formats stores it. */
  checkpoint: bigint;
  /** The last host or thread that committed for it. */
  owner: string | null;
  status: string;
  updatedAt: Date;
  /** When hosts share partitions: the host holding the lease (null once it expired or was released), since when, under which epoch. */
  lease: { host: string; since: Date; epoch: number } | null;
};

/** Checkpoint rows of the given processors, or of all when none are named. */
export const readProcessorRows = async (db: pg.Pool, processorIds: string[]): Promise<ProcessorRow[]> => {
  const { rows } = await db.query<{
    processor_id: string;
    partition: string;
    checkpoint: string;
    tx: string;
    owner: string | null;
    status: string;
    last_updated: Date;
    lease_host: string | null;
    lease_since: Date | null;
    lease_epoch: string | null;
  }>(
    `SELECT p.processor_id, p.partition, p.last_processed_checkpoint AS checkpoint, p.last_processed_transaction_id::text AS tx,
            p.processor_instance_id AS owner, p.status, p.last_updated,
            o.owner AS lease_host, o.acquired_at AS lease_since, o.epoch::text AS lease_epoch
       FROM emt_processors p
       LEFT JOIN distributary_partition_owners o
         ON o.processor_id = p.processor_id AND o.partition = p.partition AND o.expires_at > clock_timestamp()
      WHERE cardinality($1::text[]) = 0 OR p.processor_id = ANY($1::text[])
      ORDER BY p.processor_id, p.partition`,
    [processorIds],
  );
  return rows.map((row) => ({
    processorId: row.processor_id,
    partition: row.partition,
    checkpoint: parseCheckpoint(row.checkpoint, row.tx).global,
    owner: row.owner,
    status: row.status,
    updatedAt: row.last_updated,
    lease: row.lease_host === null || row.lease_since === null ? null : { host: row.lease_host, since: row.lease_since, epoch: Number(row.lease_epoch) },
  }));
};
