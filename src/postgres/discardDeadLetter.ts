import type pg from 'pg';
import { DistributaryError } from '../core/errors.ts';
import { comparePositions, type Position } from '../core/position.ts';
import { readCheckpoints } from './readCheckpoints.ts';
import { storeCheckpoint } from './storeCheckpoint.ts';

/**
 * Gives up on a dead letter, with a reason. A partition halted in front of it moves its checkpoint
 * past it in the same transaction, and resumes after it.
 */
export const discardDeadLetter = async (db: pg.Pool, options: { id: string; reason: string }): Promise<void> => {
  if (options.reason.trim() === '') throw new DistributaryError('discarding a dead letter needs a reason');
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ processor_id: string; partition: string | null; decision: string; status: string; global: string; tx: string }>(
      `SELECT processor_id, partition, decision, status, global_position::text AS global, transaction_id::text AS tx
         FROM distributary_dead_letters WHERE id = $1::bigint FOR UPDATE`,
      [options.id],
    );
    const letter = rows[0];
    if (letter === undefined) throw new DistributaryError(`no dead letter with id ${options.id}`);
    if (letter.status === 'resolved' || letter.status === 'discarded')
      throw new DistributaryError(`dead letter ${options.id} is already ${letter.status}`);
    if (letter.decision === 'halted' && letter.partition !== null) {
      const position: Position = { tx: BigInt(letter.tx), global: BigInt(letter.global) };
      const { rows: versions } = await client.query<{ version: number }>(
        'SELECT version FROM emt_processors WHERE processor_id = $1 AND partition = $2 FOR UPDATE',
        [letter.processor_id, letter.partition],
      );
      const version = versions[0]?.version ?? 1;
      const current = (await readCheckpoints(client, letter.processor_id, version)).get(letter.partition) ?? null;
      if (current === null || comparePositions(current, position) < 0) {
        const stored = await storeCheckpoint(client, {
          processorId: letter.processor_id,
          partition: letter.partition,
          version,
          instanceId: 'distributary:discard',
          expected: current,
          next: position,
        });
        if (!stored.ok) throw new DistributaryError(`could not move ${letter.processor_id}/${letter.partition} past dead letter ${options.id}: ${stored.reason}`);
      }
    }
    await client.query("UPDATE distributary_dead_letters SET status = 'discarded', discard_reason = $2 WHERE id = $1::bigint", [options.id, options.reason]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
};
