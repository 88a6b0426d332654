import type pg from 'pg';
import type { WeightedHost } from '../core/rendezvous.ts';

/** Hosts of a group in `distributary_hosts`: a heartbeat keeps a host in, silence past the timeout leaves it out. */
export const membership = (db: pg.Pool, options: { group: string; hostId: string; weight: number; timeoutMs: number }) => ({
  /** Records this host's heartbeat and returns the live hosts of the group (this one included), by host id. */
  async heartbeat(): Promise<WeightedHost[]> {
    const { rows } = await db.query<{ host_id: string; weight: number }>(
      `WITH beat AS (
         INSERT INTO distributary_hosts (group_name, host_id, weight) VALUES ($1, $2, $3)
         ON CONFLICT (group_name, host_id) DO UPDATE SET heartbeat_at = clock_timestamp(), weight = EXCLUDED.weight
       )
       SELECT host_id, weight FROM distributary_hosts
        WHERE group_name = $1 AND (host_id = $2 OR heartbeat_at > clock_timestamp() - $4 * interval '1 millisecond')
        ORDER BY host_id`,
      [options.group, options.hostId, options.weight, options.timeoutMs],
    );
    return rows.map((row) => ({ hostId: row.host_id, weight: row.weight }));
  },
  /** Leaves the group at once, so the others take over without waiting for the timeout. */
  async leave(): Promise<void> {
    await db.query('DELETE FROM distributary_hosts WHERE group_name = $1 AND host_id = $2', [options.group, options.hostId]);
  },
});

export type Membership = ReturnType<typeof membership>;
