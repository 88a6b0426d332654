import type pg from 'pg';

/**
 * Runs `work` in a transaction on a connection of `db`: commits when it resolves, rolls back when it
 * throws (and rethrows), and gives the connection back either way.
 */
export const inTransaction = async <T>(db: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
};
