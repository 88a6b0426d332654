import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProjectorStatus } from '../router/status.ts';
import type { ProcessorReport } from '../workers/messages.ts';

/** Per-partition lag series kept by default: the partitions furthest behind. */
export const DefaultTopPartitions = 20;

export type EngineMetrics = {
  /** The engine's own registry (not prom-client's global one): merge it into the app's with `Registry.merge` if wanted. */
  readonly registry: Registry;
  /** Takes one thread report in: applied events, batch timing, dead letters, retries, time-outs. */
  report(report: ProcessorReport): void;
  ownership(processorId: string, change: 'acquired' | 'released'): void;
};

const BatchBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The engine's Prometheus metrics. Label cardinality stays bounded whatever the number of tenants:
 * counters are labelled by projector only; lag has per-projector aggregates and per-partition series
 * for the `topPartitions` partitions furthest behind at each scrape (the set changes between scrapes;
 * a partition that left it stops being exported).
 */
export const engineMetrics = (context: { status: () => readonly ProjectorStatus[]; topPartitions?: number; defaultMetrics?: boolean }): EngineMetrics => {
  const registry = new Registry();
  const registers = [registry];
  const top = context.topPartitions ?? DefaultTopPartitions;
  if (context.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const applied = new Counter({ name: 'distributary_events_applied_total', help: 'Events applied to read models and committed with their checkpoint.', labelNames: ['projector'], registers });
  const batches = new Histogram({ name: 'distributary_batch_duration_seconds', help: 'Duration of a committed batch transaction (all partitions of a group).', labelNames: ['projector'], buckets: BatchBuckets, registers });
  const deadLetters = new Counter({ name: 'distributary_dead_letters_total', help: 'Events recorded as dead letters (skipped or halting their partition).', labelNames: ['projector'], registers });
  const retries = new Counter({ name: 'distributary_batch_retries_total', help: 'Failed batch attempts that will be tried again.', labelNames: ['projector'], registers });
  const timeouts = new Counter({ name: 'distributary_batch_timeouts_total', help: 'Batches cut off after the batch time-out (their transaction terminated).', labelNames: ['projector'], registers });
  const groups = new Counter({ name: 'distributary_group_transactions_total', help: 'Transactions that committed several partitions together.', labelNames: ['projector'], registers });
  const groupFailures = new Counter({ name: 'distributary_group_transaction_failures_total', help: 'Group transactions that did not commit (their partitions ran alone).', labelNames: ['projector'], registers });
  const ownership = new Counter({ name: 'distributary_ownership_changes_total', help: 'Partitions this host started or stopped owning.', labelNames: ['projector', 'change'], registers });

  // One pass over the status per scrape, shared by the lag gauges.
  let scraped: { at: number; projectors: readonly ProjectorStatus[] } | undefined;
  const current = (): readonly ProjectorStatus[] => {
    if (scraped === undefined || Date.now() - scraped.at > 100) scraped = { at: Date.now(), projectors: context.status() };
    return scraped.projectors;
  };
  const furthestBehind = (): { projector: string; partition: string; events: number; seconds: number }[] =>
    current()
      .flatMap(({ processorId, partitions }) => partitions.filter((p) => p.lag > 0).map((p) => ({ projector: processorId, partition: p.partition, events: p.lag, seconds: p.lagSeconds })))
      .sort((a, b) => b.seconds - a.seconds || b.events - a.events)
      .slice(0, top);

  new Gauge({
    name: 'distributary_partition_lag_events',
    help: `Events not applied yet, for the ${top} partitions furthest behind.`,
    labelNames: ['projector', 'partition'],
    registers,
    collect() {
      this.reset();
      for (const p of furthestBehind()) this.set({ projector: p.projector, partition: p.partition }, p.events);
    },
  });
  new Gauge({
    name: 'distributary_partition_lag_seconds',
    help: `Age of the oldest event not applied yet, for the ${top} partitions furthest behind.`,
    labelNames: ['projector', 'partition'],
    registers,
    collect() {
      this.reset();
      for (const p of furthestBehind()) this.set({ projector: p.projector, partition: p.partition }, p.seconds);
    },
  });
  new Gauge({
    name: 'distributary_projector_lag_events',
    help: 'Events not applied yet, over all partitions of the projector on this host.',
    labelNames: ['projector'],
    registers,
    collect() {
      this.reset();
      for (const { processorId, partitions } of current()) this.set({ projector: processorId }, partitions.reduce((sum, p) => sum + p.lag, 0));
    },
  });
  new Gauge({
    name: 'distributary_projector_lag_seconds',
    help: 'Age of the oldest event not applied yet, over all partitions of the projector on this host.',
    labelNames: ['projector'],
    registers,
    collect() {
      this.reset();
      for (const { processorId, partitions } of current()) this.set({ projector: processorId }, partitions.reduce((max, p) => Math.max(max, p.lagSeconds), 0));
    },
  });
  new Gauge({
    name: 'distributary_partitions',
    help: 'Partitions this host owns, by state.',
    labelNames: ['projector', 'state'],
    registers,
    collect() {
      this.reset();
      for (const { processorId, partitions } of current()) {
        const states = new Map<string, number>();
        for (const p of partitions) states.set(p.state, (states.get(p.state) ?? 0) + 1);
        for (const [state, count] of states) this.set({ projector: processorId, state }, count);
      }
    },
  });

  // The partitions of a group transaction report the same timing: count the transaction once.
  let lastGroup = '';
  return {
    registry,
    report(report) {
      const projector = report.processorId;
      if (report.applied > 0) applied.inc({ projector }, report.applied);
      if (report.deadLettered > 0) deadLetters.inc({ projector }, report.deadLettered);
      if (report.state === 'retrying') {
        retries.inc({ projector });
        if (report.error?.name === 'BatchTimeoutError') timeouts.inc({ projector });
      }
      if (report.groupFailed === true) groupFailures.inc({ projector });
      const { batch } = report;
      if (batch === undefined) return;
      if (batch.groupSize === 1) return void batches.observe({ projector }, batch.durationMs / 1000);
      const group = `${projector}:${batch.startedAt}:${batch.durationMs}:${batch.groupSize}`;
      if (group === lastGroup) return;
      lastGroup = group;
      groups.inc({ projector });
      batches.observe({ projector }, batch.durationMs / 1000);
    },
    ownership: (processorId, change) => ownership.inc({ projector: processorId, change }),
  };
};
