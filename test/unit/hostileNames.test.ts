import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { postgreSQLRawSQLProjection } from '@event-driven-io/emmett-postgresql';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolvePartitionKey, MaxPartitionKeyBytes } from '../../src/core/partitionKey.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { checkApp, tenantRegistryBucket, tenantStreamNames } from '../../src/jetstream/streamNames.ts';
import { durableName, MaxTokenLength, subjectToken, tenantOfToken, tenantToken } from '../../src/jetstream/tenantToken.ts';
import { fromPino } from '../../src/logging/pinoLogger.ts';
import { partitionedProjector } from '../../src/projector/partitionedProjector.ts';
import { natsConfig } from '../../src/security/natsConfig.ts';
import { tenantPermissions } from '../../src/security/natsPermissions.ts';
import { tenantIsolationSql } from '../../src/security/tenantIsolation.ts';
import { engineMetrics } from '../../src/telemetry/engineMetrics.ts';

/*
 * Every place a name from outside (a partition key, a processor id, an app name) becomes a NATS
 * subject, stream or consumer name, a KV key, an SQL identifier, a metric label, a log field or a file
 * path, fed random unicode, control characters, NATS wildcards, dots, spaces, SQL quotes and long strings.
 */

const hostileChars = fc.constantFrom('.', '*', '>', ' ', '\t', '\n', '\r', '\u0000', "'", '"', ';', '\\', '/', '_', '=', '-', '$', 'A', 'a', 'é', '\u{1F600}', '\u202E', '\uFEFF');
/** Strings built to hit every escape: mostly hostile characters, any unicode, sometimes very long. */
const hostile = fc.oneof(
  fc.string({ unit: fc.oneof(hostileChars, fc.constantFrom('x', 'y')), minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.string({ unit: hostileChars, minLength: 150, maxLength: 700 }),
);
const runs = { numRuns: 400 };

/** What nats-server takes as one subject token, stream or consumer name: no wildcard, dot, whitespace or path separator, bounded. */
const natsName = /^[A-Za-z0-9_=-]{1,255}$/;

describe('hostile names', () => {
  it('give every tenant a token of its own, safe as a subject token, a KV key and a file name on a case-insensitive file system', () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        const [ta, tb] = [tenantToken(a), tenantToken(b)];
        expect(ta).toMatch(/^[a-z0-9_=-]+$/);
        expect(ta.length).toBeLessThanOrEqual(MaxTokenLength + 1);
        if (a !== b) expect(ta).not.toBe(tb);
        if (!ta.startsWith('=')) expect(tenantOfToken(ta)).toBe(a);
      }),
      runs,
    );
    // Case and escaped characters: apart, and apart when lower-cased.
    const near = ['acme', 'ACME', 'Acme', 'a.b', 'a_2eb', 'a b', 'a*b', 'a>b', 'a/b'];
    expect(new Set(near.map((k) => tenantToken(k).toLowerCase())).size).toBe(near.length);
  });

  it('build stream names and subjects nats-server accepts, apart for distinct tenants, within the app', () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, (tenant, other, eventType) => {
        const names = tenantStreamNames('shop', tenant);
        expect(names.stream).toMatch(natsName);
        expect(names.subjects).toBe(`shop.tenants.${names.token}.>`);
        const subject = names.subject(eventType);
        expect(subject.split('.')).toHaveLength(4);
        for (const token of subject.split('.')) expect(token).toMatch(/^[A-Za-z0-9_=-]+$/);
        if (tenant !== other) expect(tenantStreamNames('shop', other).stream).not.toBe(names.stream);
      }),
      runs,
    );
  });

  it('name durable consumers within nats-server limits, apart for distinct processors', () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        expect(durableName(a)).toMatch(natsName);
        expect(durableName(a).length).toBeLessThanOrEqual(MaxTokenLength + 1);
        if (a !== b) expect(durableName(a)).not.toBe(durableName(b));
        expect(subjectToken(a)).not.toMatch(/[.*>\s]/);
      }),
      runs,
    );
  });

  it('refuse an app name that is not a plain token, naming it, and never build a subject from it', () => {
    fc.assert(
      fc.property(hostile, (app) => {
        let accepted: string | undefined;
        try {
          accepted = checkApp(app);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError);
          expect((error as Error).message).toContain(JSON.stringify(app));
          return;
        }
        expect(accepted).toMatch(/^[a-z][a-z0-9-]{0,31}$/);
        expect(tenantRegistryBucket(accepted)).toMatch(/^[a-z0-9_-]+$/);
      }),
      runs,
    );
  });

  it('turn any partitionBy result into a key or a clear error, never a throw', () => {
    const anything = fc.oneof(hostile, fc.anything(), fc.constant(''), fc.string({ minLength: MaxPartitionKeyBytes, maxLength: MaxPartitionKeyBytes + 40 }));
    fc.assert(
      fc.property(anything, fc.boolean(), (value, throws) => {
        const result = resolvePartitionKey(() => {
          if (throws) throw new Error(`bad ${String(value)}`);
          return value;
        }, {});
        if (result.ok) {
          expect(typeof value).toBe('string');
          expect(result.key).toBe(value);
          expect(result.key).not.toContain('\u0000');
        } else {
          expect(result.error.name).toBe('PartitionKeyError');
          expect(result.error.message).toMatch(/partitionBy|partition key/);
        }
      }),
      runs,
    );
  });

  it('accept a processor id or refuse it naming it', () => {
    const projection = postgreSQLRawSQLProjection({ name: 'noop', canHandle: ['A'], evolve: () => [] });
    fc.assert(
      fc.property(hostile, (processorId) => {
        try {
          const projector = partitionedProjector({ processorId, projection, partitionBy: () => 'x' });
          expect(projector.processorId).toBe(processorId);
          expect(durableName(projector.processorId)).toMatch(natsName);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError);
          expect((error as Error).message).toContain(JSON.stringify(processorId.slice(0, 80)).slice(0, -1));
        }
      }),
      runs,
    );
  });

  it('quote SQL: identifiers refused unless plain, document fields always literals', () => {
    fc.assert(
      fc.property(hostile, hostile, (table, field) => {
        let statements: string[];
        try {
          statements = tenantIsolationSql([{ table, column: 'tenant' }]);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError);
          expect((error as Error).message).toContain(JSON.stringify(table));
          return;
        }
        expect(table).toMatch(/^[A-Za-z_][A-Za-z0-9_$]*$/);
        expect(statements.join(';')).toContain(`"${table}"`);
        const policy = tenantIsolationSql([{ collection: 'carts', field }]).at(-1)!;
        // The field sits in one string literal: every quote inside it doubled.
        const literal = /data ->> '((?:[^']|'')*)'\) = current_setting/.exec(policy);
        expect(literal?.[1]?.replaceAll("''", "'")).toBe(field);
      }),
      runs,
    );
  });

  it('write metric labels Prometheus reads back as given', async () => {
    const partitions = fc.sample(hostile, 60);
    const processorId = 'ledger "x"\n\\';
    const metrics = engineMetrics({
      defaultMetrics: false,
      topPartitions: partitions.length,
      status: () => [{ processorId, lowWaterMark: 0n, threads: 1, partitions: partitions.map((partition, i) => ({ partition, checkpoint: null, head: null, lag: i + 1, lagSeconds: i + 1, thread: 0, owner: 'h', state: 'idle', applied: 0, deadLettered: 0 }) as never) }],
    });
    const text = await metrics.registry.metrics();
    const lines = text.split('\n').filter((line) => line.startsWith('distributary_partition_lag_events{'));
    const unescape = (value: string): string => value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const read = lines.map((line) => {
      const match = /^distributary_partition_lag_events\{projector="((?:[^"\\]|\\.)*)",partition="((?:[^"\\]|\\.)*)"\} (\d+)$/.exec(line);
      expect(match, line).not.toBeNull();
      return { projector: unescape(match![1]!), partition: unescape(match![2]!) };
    });
    expect(read.map((r) => r.partition).sort()).toEqual([...new Set(partitions)].sort());
    expect(new Set(read.map((r) => r.projector))).toEqual(new Set([processorId]));
  });

  it('log fields as JSON the reader gets back unchanged, one line per entry', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)), done()) });
    const logger = fromPino(pino({ level: 'info' }, sink));
    const values = fc.sample(hostile, 100);
    for (const partition of values) logger.warn(`partition ${partition} halted`, { partition, processorId: partition });
    expect(lines).toHaveLength(values.length);
    lines.forEach((line, i) => {
      const entry = JSON.parse(line) as { partition: string; msg: string };
      expect(entry.partition).toBe(values[i]);
      expect(entry.msg).toBe(`partition ${values[i]} halted`);
    });
  });

  it('keep credential files inside the output directory, one per tenant, and permissions per tenant apart', async () => {
    const out = mkdtempSync(join(tmpdir(), 'distributary-hostile-'));
    const tenants = [...new Set(fc.sample(hostile, 150))];
    const config = await natsConfig({ app: 'shop', out, tenants, projectors: fc.sample(hostile, 5) });
    expect(config.tenants).toHaveLength(tenants.length);
    const files = readdirSync(join(out, 'tenants'));
    expect(files).toHaveLength(tenants.length);
    for (const user of config.tenants) expect(relative(out, user.nkeyFile)).toMatch(/^tenants\/[a-z0-9_=-]+\.nk$/);
    for (const tenant of tenants.slice(0, 20)) {
      const own = tenantPermissions('shop', tenant, []);
      for (const subject of [...own.publish.allow, ...own.subscribe.allow]) expect(subject).not.toMatch(/\s/);
      expect(own.subscribe.allow).toContain(tenantStreamNames('shop', tenant).subjects);
    }
  });
});
