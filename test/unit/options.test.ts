import { describe, expect, it } from 'vitest';
import { resolveEngineOptions } from '../../src/engine/options.ts';
import { resolveRelayOptions } from '../../src/jetstream/relayOptions.ts';
import { projectionEngine, relay, type ProjectionEngineOptions, type RelayOptions } from '../../src/index.ts';

const engine: ProjectionEngineOptions = { connectionString: 'postgres://localhost/x', projectors: 'file:///x.ts' };
const relayBase: RelayOptions = { connectionString: 'postgres://localhost/x', nats: { servers: 'nats://localhost:4222' }, app: 'shop' };

describe('options', () => {
  it.each([
    [{ treads: 2 }, 'projectionEngine: unknown option options.treads; known: connectionString, projectors, hostId, threads'],
    [{ reader: { batch: 10 } }, 'projectionEngine: unknown option options.reader.batch; known: batchSize'],
    [{ threads: 0 }, 'projectionEngine: options.threads must be a positive number, got 0'],
    [{ lease: { timeoutMs: -5 } }, 'projectionEngine: options.lease.timeoutMs must be a positive number, got -5'],
    [{ transport: { type: 'kafka' } }, "projectionEngine: options.transport.type must be 'in-process' or 'jetstream', got kafka"],
    [{ transport: { type: 'jetstream', servers: 'nats://x', app: 'shop', ackWait: 5 } }, 'projectionEngine: unknown option options.transport.ackWait; known: type, servers, app, ackWaitMs'],
  ])('of the engine refuse %j, naming it', (override, message) => {
    expect(() => resolveEngineOptions({ ...engine, ...(override as Partial<ProjectionEngineOptions>) })).toThrow(message);
    expect(() => projectionEngine({ ...engine, ...(override as Partial<ProjectionEngineOptions>) })).toThrow(message);
  });

  it.each([
    [{ batchsize: 10 }, 'relay: unknown option options.batchsize; known: connectionString, nats'],
    [{ batchSize: 0 }, 'relay: options.batchSize must be a positive integer, got 0'],
    [{ lease: { timeoutMs: 0 } }, 'relay: options.lease.timeoutMs must be a positive number, got 0'],
    [{ idlePollMs: -1 }, 'relay: options.idlePollMs must be a positive number, got -1'],
    [{ stream: { maxAge: 5 } }, 'relay: unknown option options.stream.maxAge; known: maxAgeMs'],
    [{ stream: { maxBytes: 0 } }, 'relay: options.stream.maxBytes must be -1 (unlimited) or a positive integer, got 0'],
    [{ stream: { storage: 'disk' } }, "relay: options.stream.storage must be 'file' or 'memory', got disk"],
    [{ partitionBy: 'tenant' }, 'relay: options.partitionBy must be a function, got string'],
  ])('of the relay refuse %j, naming it', (override, message) => {
    expect(() => resolveRelayOptions({ ...relayBase, ...(override as Partial<RelayOptions>) })).toThrow(message);
    expect(() => relay({ ...relayBase, ...(override as Partial<RelayOptions>) })).toThrow(message);
  });

  it('check a tenant’s stream overrides when its stream is made', () => {
    const resolved = resolveRelayOptions({ ...relayBase, stream: { maxAgeMs: 1000, overrides: (tenant) => (tenant === 'big' ? { maxBytes: 1e9 } : tenant === 'bad' ? { replicas: 0 } : undefined) } });
    expect(resolved.limits('big')).toMatchObject({ maxAgeMs: 1000, maxBytes: 1e9 });
    expect(resolved.limits('small')).toMatchObject({ maxAgeMs: 1000, maxBytes: -1 });
    expect(() => resolved.limits('bad')).toThrow("relay: options.stream.overrides('bad').replicas must be a positive integer, got 0");
  });
});
