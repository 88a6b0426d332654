import type { RebuildProgressRow } from '../postgres/readRebuildProgress.ts';
import type { RebuildStatus, RebuildView } from './statusModel.ts';

/**
 * How far a rebuild has come, from 0 to 1 (see `RebuildView.progress`): a running one by global
 * positions, from just before the store's first event (where its replay began) to `through`.
 */
export const rebuildProgress = (status: RebuildStatus, positions: { first: bigint | null; position: bigint | null; through: bigint | null }): number | null => {
  if (status === 'done') return 1;
  if (status === 'failed') return null;
  const { first, position, through } = positions;
  if (status === 'requested' || first === null || position === null || through === null) return 0;
  const start = first - 1n;
  if (through <= start) return 0;
  const fraction = Number(position - start) / Number(through - start);
  return Math.min(1, Math.max(0, Math.floor(fraction * 1000) / 1000));
};

const bigintOrNull = (text: string | null): bigint | null => (text === null ? null : BigInt(text));

export const rebuildView = (row: RebuildProgressRow): RebuildView => ({
  id: row.id,
  processorId: row.processor_id,
  partition: row.partition,
  status: row.status,
  requestedAt: row.requested_at.toISOString(),
  startedAt: row.started_at?.toISOString() ?? null,
  finishedAt: row.finished_at?.toISOString() ?? null,
  through: row.through,
  position: row.position,
  progress: rebuildProgress(row.status, { first: bigintOrNull(row.first), position: bigintOrNull(row.position), through: bigintOrNull(row.through) }),
  replayed: Number(row.replayed),
  error: row.error,
});
