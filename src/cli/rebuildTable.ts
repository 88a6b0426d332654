import type { RebuildView } from '../status/statusModel.ts';
import { duration } from './duration.ts';

export const rebuildHeaders = ['id', 'projector', 'partition', 'status', 'progress', 'requested', 'took', 'replayed', 'error'] as const;

/** `ledger/tenant-7`, or `ledger (all partitions)` for a whole projector. */
export const rebuildTarget = (rebuild: Pick<RebuildView, 'processorId' | 'partition'>): string =>
  rebuild.partition === null ? `${rebuild.processorId} (all partitions)` : `${rebuild.processorId}/${rebuild.partition}`;

/** `42%`, floored: 99.9% shows as 99%. */
export const percent = (progress: number | null): string => (progress === null ? '' : `${Math.floor(progress * 100)}%`);

/** One row of the rebuilds table, under `rebuildHeaders`. */
export const rebuildRow = (rebuild: RebuildView): string[] => {
  const finished = rebuild.status === 'done' || rebuild.status === 'failed';
  const took = finished && rebuild.startedAt !== null && rebuild.finishedAt !== null ? (Date.parse(rebuild.finishedAt) - Date.parse(rebuild.startedAt)) / 1000 : undefined;
  return [
    rebuild.id,
    rebuild.processorId,
    rebuild.partition ?? '(all partitions)',
    rebuild.status,
    percent(rebuild.progress),
    rebuild.requestedAt,
    took === undefined ? '' : duration(took),
    finished ? rebuild.replayed.toLocaleString('en-US') : '',
    rebuild.error ?? '',
  ];
};
