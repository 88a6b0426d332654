import { recordingProjector } from './recordingProjector.ts';

/** Records, per event, when it was appended and when it was applied. */
export const latencyProjector = recordingProjector({ processorId: 'latency', table: 'bench_latency', placement: { type: 'hash', workers: 2 } });
