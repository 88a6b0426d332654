import type pg from 'pg';
import { marksOfProcessorSql } from './markIds.ts';

/** distributary's tables keyed by a processor id (without a version of their own). */
const KeyedTables = [
  'distributary_dead_letters',
  'distributary_partition_owners',
  'distributary_ownership_log',
  'distributary_partition_weights',
  'distributary_scheduler_snapshots',
  'distributary_partition_status',
  'distributary_rebuilds',
] as const;

/**
 * Moves what is stored of one version of a processor from one id to another, in the caller's
 * transaction: its checkpoints and low-water marks in `emt_processors` (rows of that version; Emmett's
 * own `emt:default` row stays, it is not distributary's), its adoption record and, with `ownRows`, its
 * rows in distributary's other tables.
 */
export const renameProcessor = async (client: pg.PoolClient, from: string, to: string, version: number, ownRows: boolean): Promise<void> => {
  await client.query("UPDATE emt_processors SET processor_id = $2 WHERE processor_id = $1 AND version = $3 AND partition <> 'emt:default'", [from, to, version]);
  // Marks are named `distributary:mark:<group>:<processor>`.
  await client.query(
    `UPDATE emt_processors SET processor_id = left(processor_id, length(processor_id) - length($1)) || $2
      WHERE ${marksOfProcessorSql('processor_id', '$1')} AND version = $3`,
    [from, to, version],
  );
  await client.query('UPDATE distributary_adoptions SET processor_id = $2 WHERE processor_id = $1 AND version = $3', [from, to, version]);
  if (ownRows) for (const table of KeyedTables) await client.query(`UPDATE ${table} SET processor_id = $2 WHERE processor_id = $1`, [from, to]);
};

/**
 * Deletes what is stored of one version of a processor under its id, in the caller's transaction:
 * checkpoints, marks, adoption, and its rows in distributary's other tables.
 */
export const deleteProcessor = async (client: pg.PoolClient, id: string, version: number): Promise<void> => {
  await client.query('DELETE FROM emt_processors WHERE processor_id = $1 AND version = $2', [id, version]);
  await client.query(`DELETE FROM emt_processors WHERE ${marksOfProcessorSql('processor_id', '$1')} AND version = $2`, [id, version]);
  await client.query('DELETE FROM distributary_adoptions WHERE processor_id = $1 AND version = $2', [id, version]);
  for (const table of KeyedTables) await client.query(`DELETE FROM ${table} WHERE processor_id = $1`, [id]);
};
