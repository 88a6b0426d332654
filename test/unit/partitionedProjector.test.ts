import { postgreSQLRawSQLProjection } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { partitionedProjector, type PartitionedProjectorOptions } from '../../src/index.ts';

const projection = postgreSQLRawSQLProjection({ name: 'noop', canHandle: ['A'], evolve: () => [] });
const base: PartitionedProjectorOptions = { processorId: 'p', projection, partitionBy: (e) => String(e.metadata.streamName) };

describe('partitionedProjector', () => {
  it('fills defaults once and never touches the caller options', () => {
    const options = { ...base };
    const projector = partitionedProjector(options);
    expect(projector).toMatchObject({ placement: { type: 'hash' }, batchSize: 500, concurrency: 4, version: 1 });
    expect([...projector.handles]).toEqual(['A']);
    expect(options).toEqual(base);
  });

  it.each([
    [{ placement: { type: 'hash', workers: 0 } }, 'partitionedProjector: options.placement.workers must be a positive integer, got 0'],
    [{ placement: { type: 'per-partition', maxThreads: 1.5 } }, 'partitionedProjector: options.placement.maxThreads must be a positive integer, got 1.5'],
    [{ placement: { type: 'round-robin' } }, "partitionedProjector: options.placement.type must be 'hash', 'per-partition' or 'dedicated', got round-robin"],
    [{ batchSize: -1 }, 'partitionedProjector: options.batchSize must be a positive integer, got -1'],
    [{ truncateOnStart: true }, 'partitionedProjector: unknown option options.truncateOnStart; known: processorId, projection, partitionBy, placement'],
    [{ onError: { retry: 3 } }, 'partitionedProjector: unknown option options.onError.retry; known: retries, backoff, then, batchTimeoutMs'],
    [{ onError: { backoff: { jitter: 2 } } }, 'partitionedProjector: options.onError.backoff.jitter must be a number from 0 to 1, got 2'],
    [{ placement: { type: 'hash', worker: 2 } }, 'partitionedProjector: unknown option options.placement.worker; known: type, workers'],
    [{ processorId: '' }, 'partitionedProjector: options.processorId must be a non-empty string'],
    [{ processorId: 'distributary:x' }, "partitionedProjector: options.processorId must not start with 'distributary:', got 'distributary:x'"],
  ])('rejects %j naming the option', (override, message) => {
    expect(() => partitionedProjector({ ...base, ...(override as Partial<PartitionedProjectorOptions>) })).toThrow(message);
  });
});
