import { describe, expect, it } from 'vitest';
import { classifyError, isCreateRace, isTransientError } from '../../src/core/isTransientError.ts';

const named = (name: string, extra: object = {}): Error => Object.assign(new Error(name), { name }, extra);

describe('sorting errors', () => {
  it('waits out a lost connection or a database starting up, and counts anything else against the event', () => {
    expect(isTransientError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('the database system is starting up'), { code: '57P03' }))).toBe(true);
    expect(isTransientError(new Error('x', { cause: Object.assign(new Error('y'), { code: '08006' }) }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    // A projection's own time-out is not an outage of the database.
    expect(isTransientError(named('TimeoutError'))).toBe(false);
  });

  it('sorts what NATS fails with: outages, refusals and missing streams', () => {
    expect(classifyError(named('TimeoutError'))).toBe('transient');
    expect(classifyError(named('NoResponders'))).toBe('transient');
    expect(classifyError(named('JetStreamApiError', { code: 503 }))).toBe('transient');
    expect(classifyError(named('PermissionViolationError'))).toBe('permission');
    expect(classifyError(named('StreamNotFoundError'))).toBe('not-found');
    expect(classifyError(named('JetStreamApiError', { code: 400 }))).toBe('other');
  });

  it('tells a lost race to create the same table from other errors', () => {
    expect(isCreateRace(Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'pg_type_typname_nsp_index' }))).toBe(true);
    expect(isCreateRace(Object.assign(new Error('relation exists'), { code: '42P07' }))).toBe(true);
    expect(isCreateRace(Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'carts_pkey' }))).toBe(false);
  });
});
