import pg from 'pg';
import { DistributaryError } from '../core/errors.ts';
import { pollUntil } from '../core/pollUntil.ts';
import { markTenantRestoring } from '../postgres/markTenantRestoring.ts';
import { readRemovedTenants, type RemovedTenant } from '../postgres/readRemovedTenants.ts';
import { removeTenant } from '../postgres/removeTenant.ts';
import { readStatus } from '../status/readStatus.ts';

export type TenantRow = {
  partition: string;
  /** Projectors with a partition for it. */
  projectors: number;
  lagEvents: number;
  maxLagSeconds: number;
  /** Events applied for it by the current owners since they started. */
  applied: number;
  removed: boolean;
  removedAt: Date | null;
};

export type Tenants = {
  /**
   * Removes a tenant everywhere: every engine stops applying its events (old or new: its events stay
   * in the store), its checkpoints, leases, weights, dead letters and status are deleted, and with
   * `purgeReadModels` its read-model rows (through each projector's `truncatePartition`). Idempotent.
   * Resolves with its tombstone once an engine cleaned up after it, or at `timeoutMs` with `removedAt`
   * null (no engine running: the next one to start does it).
   */
  remove(partition: string, options?: { purgeReadModels?: boolean; timeoutMs?: number }): Promise<RemovedTenant>;
  /** Brings a removed tenant back: engines rebuild its partitions from its events. Resolves once one has taken it up. */
  restore(partition: string, options?: { timeoutMs?: number }): Promise<void>;
  list(): Promise<TenantRow[]>;
  close(): Promise<void>;
};

/** Operations on tenants (partition keys across projectors), for tools and admin endpoints. */
export const tenants = (options: { connectionString: string }): Tenants => {
  const db = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  const tombstone = async (partition: string): Promise<RemovedTenant | undefined> => (await readRemovedTenants(db)).find((t) => t.partition === partition);
  const poll = <T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> => pollUntil(check, { timeoutMs, everyMs: 100 });
  return {
    async remove(partition, { purgeReadModels = false, timeoutMs = 30_000 } = {}) {
      if (typeof partition !== 'string' || partition.length === 0) throw new DistributaryError('tenants.remove: the tenant must be a non-empty partition key');
      await removeTenant(db, partition, purgeReadModels);
      return (await poll(async () => ((await tombstone(partition))?.removedAt != null ? tombstone(partition) : undefined), timeoutMs)) ?? (await tombstone(partition))!;
    },
    async restore(partition, { timeoutMs = 30_000 } = {}) {
      if (!(await markTenantRestoring(db, partition))) throw new DistributaryError(`tenant '${partition}' is not removed`);
      const gone = await poll(async () => {
        const current = await tombstone(partition);
        if (current === undefined) return true;
        if (!current.restoring && current.error !== null) throw new DistributaryError(`tenant '${partition}': ${current.error}`);
        return undefined;
      }, timeoutMs);
      if (gone === undefined) throw new DistributaryError(`tenant '${partition}' is marked for restoring; no engine took it up within ${timeoutMs} ms (the next one to start will)`);
    },
    async list() {
      const [status, removed] = await Promise.all([readStatus(db), readRemovedTenants(db)]);
      const rows = new Map<string, TenantRow>();
      for (const p of status.partitions) {
        const row = rows.get(p.partition) ?? { partition: p.partition, projectors: 0, lagEvents: 0, maxLagSeconds: 0, applied: 0, removed: false, removedAt: null };
        row.projectors++;
        row.lagEvents += p.lagEvents;
        row.maxLagSeconds = Math.max(row.maxLagSeconds, p.lagSeconds);
        row.applied += p.applied;
        rows.set(p.partition, row);
      }
      for (const t of removed) rows.set(t.partition, { ...(rows.get(t.partition) ?? { partition: t.partition, projectors: 0, lagEvents: 0, maxLagSeconds: 0, applied: 0 }), removed: true, removedAt: t.removedAt });
      return [...rows.values()].sort((a, b) => a.partition.localeCompare(b.partition));
    },
    close: () => db.end(),
  };
};
