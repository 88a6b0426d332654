import { ConfigurationError } from '../core/errors.ts';
import { isPartitionedProjector, type AnyPartitionedProjector } from './partitionedProjector.ts';

/**
 * Imports a module and collects every partitioned projector it exports, directly or in arrays.
 * Both the engine and each worker thread load projectors this way: projections are code and cannot be posted.
 */
export const loadProjectors = async (moduleUrl: string): Promise<Map<string, AnyPartitionedProjector>> => {
  let exported: Record<string, unknown>;
  try {
    exported = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigurationError(`projectionEngine: cannot import projectors module ${moduleUrl}`, { cause });
  }
  const found = new Map<string, AnyPartitionedProjector>();
  const add = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(add);
    if (!isPartitionedProjector(value)) return;
    const existing = found.get(value.processorId);
    if (existing !== undefined && existing !== value)
      throw new ConfigurationError(`projectionEngine: two projectors in ${moduleUrl} share processorId '${value.processorId}'`);
    found.set(value.processorId, value);
  };
  Object.values(exported).forEach(add);
  if (found.size === 0)
    throw new ConfigurationError(`projectionEngine: ${moduleUrl} exports no partitioned projector (use partitionedProjector(...))`);
  return found;
};
