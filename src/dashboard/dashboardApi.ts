import { createHash, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { DistributaryError } from '../core/errors.ts';
import { discardDeadLetter } from '../postgres/discardDeadLetter.ts';
import { isKnownProjector } from '../postgres/isKnownProjector.ts';
import { requestRebuild } from '../postgres/requestRebuild.ts';
import { listDeadLetters, type DeadLetterRow } from '../postgres/listDeadLetters.ts';
import { retryDeadLetters } from '../postgres/retryDeadLetters.ts';
import { readStatus } from '../status/readStatus.ts';
import { removeTenant } from '../postgres/removeTenant.ts';

/** A JSON answer; expected refusals (bad input, no token, nothing to retry) are replies, not exceptions. */
export type Reply = { status: number; json: unknown; headers?: Record<string, string> };

export type DashboardApi = {
  settings(): Reply;
  status(query: URLSearchParams): Promise<Reply>;
  deadLetters(query: URLSearchParams): Promise<Reply>;
  retry(id: string, authorization: string | undefined): Promise<Reply>;
  discard(id: string, authorization: string | undefined, body: unknown): Promise<Reply>;
  /** Asks for a rebuild of `{ processorId, partition? }` (the whole projector without partition); answers 202 with its id. */
  rebuild(authorization: string | undefined, body: unknown): Promise<Reply>;
  /** Removes a tenant everywhere (`{ tenant, purgeReadModels? }`, as `distributary tenant remove`); answers 202: engines carry it out. */
  removeTenant(authorization: string | undefined, body: unknown): Promise<Reply>;
};

const statuses: readonly DeadLetterRow['status'][] = ['halted', 'skipped', 'retry', 'resolved', 'discarded'];
/** Letters someone may still have to act on. */
const open: readonly DeadLetterRow['status'][] = ['halted', 'skipped', 'retry'];
const listLimit = 500;

const refused = (status: number, error: string, headers?: Record<string, string>): Reply => ({ status, json: { error }, ...(headers ? { headers } : {}) });

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** The JSON and the dashboard's actions over one pool; retry, discard and rebuild need `token`, when there is one. */
export const dashboardApi = (db: pg.Pool, settings: { token: string | undefined; refreshMs: number }): DashboardApi => {
  const expected = settings.token === undefined ? undefined : digest(settings.token);

  /** Null when allowed; comparing digests keeps the comparison's time independent of the token. */
  const authorize = (authorization: string | undefined): Reply | null => {
    if (expected === undefined)
      return refused(403, 'the dashboard was started without a token: retrying and discarding dead letters, rebuilding and removing tenants are disabled; start it with a token to enable them');
    const presented = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (presented === undefined)
      return refused(401, 'retrying, discarding, rebuilding and removing tenants need the token: send Authorization: Bearer <token>', { 'WWW-Authenticate': 'Bearer' });
    if (!timingSafeEqual(digest(presented), expected)) return refused(401, 'wrong token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    return null;
  };

  const validId = (id: string): boolean => /^[1-9][0-9]{0,18}$/.test(id);

  return {
    settings: () => ({ status: 200, json: { refreshMs: settings.refreshMs, actions: expected !== undefined } }),

    status: async (query) => {
      const processorId = query.get('projector') ?? undefined;
      return { status: 200, json: await readStatus(db, processorId === undefined ? {} : { processorId }) };
    },

    deadLetters: async (query) => {
      const status = query.get('status');
      if (status !== null && !statuses.includes(status as DeadLetterRow['status']))
        return refused(400, `status must be one of ${statuses.join(', ')}, got '${status}'`);
      const filter = { processorId: query.get('projector') ?? undefined, partition: query.get('partition') ?? undefined, limit: listLimit };
      const wanted = status === null ? open : [status as DeadLetterRow['status']];
      const lists = await Promise.all(wanted.map((one) => listDeadLetters(db, { ...filter, status: one })));
      const letters = lists
        .flat()
        .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
        .slice(0, listLimit);
      return { status: 200, json: letters };
    },

    retry: async (id, authorization) => {
      const refusal = authorize(authorization);
      if (refusal !== null) return refusal;
      if (!validId(id)) return refused(400, `a dead letter id is a positive integer, got '${id}'`);
      const marked = await retryDeadLetters(db, { id });
      if (marked === 0) return refused(409, `dead letter ${id} is not halted or skipped (or does not exist): nothing to retry`);
      return { status: 200, json: { retried: marked } };
    },

    discard: async (id, authorization, body) => {
      const refusal = authorize(authorization);
      if (refusal !== null) return refusal;
      if (!validId(id)) return refused(400, `a dead letter id is a positive integer, got '${id}'`);
      const reason = typeof body === 'object' && body !== null && 'reason' in body ? body.reason : undefined;
      if (typeof reason !== 'string' || reason.trim() === '') return refused(400, 'discarding a dead letter needs a reason: send {"reason": "..."}');
      try {
        await discardDeadLetter(db, { id, reason });
      } catch (error) {
        // Its refusals (no such letter, already resolved or discarded) are the caller's to fix; anything else is an outage.
        if (error instanceof DistributaryError) return refused(409, error.message);
        throw error;
      }
      return { status: 200, json: { discarded: id } };
    },

    rebuild: async (authorization, body) => {
      const refusal = authorize(authorization);
      if (refusal !== null) return refusal;
      const object = typeof body === 'object' && body !== null ? body : {};
      const processorId = 'processorId' in object ? object.processorId : undefined;
      const partition = 'partition' in object ? object.partition : undefined;
      if (typeof processorId !== 'string' || processorId === '')
        return refused(400, 'a rebuild needs the projector: send {"processorId": "...", "partition": "..."} (without partition, the whole projector)');
      if (partition !== undefined && partition !== null && (typeof partition !== 'string' || partition === ''))
        return refused(400, 'partition must be a partition key (a non-empty string), or left out to rebuild the whole projector');
      if (!(await isKnownProjector(db, processorId))) return refused(400, `no projector '${processorId}' has run against this database: nothing to rebuild`);
      const id = await requestRebuild(db, { processorId, partition: partition ?? null });
      return { status: 202, json: { id, processorId, partition: partition ?? null } };
    },

    removeTenant: async (authorization, body) => {
      const refusal = authorize(authorization);
      if (refusal !== null) return refusal;
      const object = typeof body === 'object' && body !== null ? body : {};
      const tenant = 'tenant' in object ? object.tenant : undefined;
      const purge = 'purgeReadModels' in object ? object.purgeReadModels : false;
      if (typeof tenant !== 'string' || tenant === '') return refused(400, 'removing a tenant needs it: send {"tenant": "...", "purgeReadModels": false}');
      if (typeof purge !== 'boolean') return refused(400, 'purgeReadModels must be true or false');
      await removeTenant(db, tenant, purge);
      return { status: 202, json: { tenant, purgeReadModels: purge } };
    },
  };
};
