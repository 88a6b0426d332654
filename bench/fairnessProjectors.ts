import { recordingProjector } from './recordingProjector.ts';

/** One thread (two transactions at a time; the weights run uses one), so tenants compete for it; 2 ms more per batch. */
export const fairProjector = recordingProjector({
  processorId: 'fair',
  table: 'bench_fair',
  placement: { type: 'hash', workers: 1 },
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 2),
  perBatchCostMs: 2,
});
