import type pg from 'pg';
import { finishRebuild } from './finishRebuild.ts';

/** Ends a requested rebuild as failed with `reason`, once (another host may be refusing it at the same time); true when this call did. */
export const refuseRebuild = async (db: pg.Pool, id: string, reason: string): Promise<boolean> => {
  const claimed = await db.query("UPDATE distributary_rebuilds SET status = 'running' WHERE id = $1::bigint AND status IN ('requested', 'running')", [id]);
  if (claimed.rowCount !== 1) return false;
  await finishRebuild(db, id, { replayed: 0, error: reason });
  return true;
};
