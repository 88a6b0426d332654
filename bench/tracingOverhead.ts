// The cost of recordBatchSpan on the router's thread when tracing is off: 100,000 calls with no
// OpenTelemetry SDK registered, then with an SDK whose sampler drops every span, against a loop
// that only builds the same batch objects. Each batch carries 20 traceparents. Best of 5 rounds.
import { trace } from '@opentelemetry/api';
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { recordBatchSpan, type AppliedBatch } from '../src/tracing/batchSpans.ts';

const calls = Number(process.env.BENCH_CALLS ?? 100_000);
const rounds = 5;
const log = (line: string): boolean => process.stdout.write(`${line}\n`);

const traceparents = Array.from({ length: 20 }, (_, i) => `00-${(i + 1).toString(16).padStart(32, '0')}-${(i + 1).toString(16).padStart(16, '0')}-01`);
const batchAt = (i: number): AppliedBatch => ({
  processorId: 'carts',
  partition: `tenant-${i % 100}`,
  firstPosition: BigInt(i * 10),
  lastPosition: BigInt(i * 10 + 9),
  events: 10,
  groupSize: 4,
  startedAt: Date.now(),
  durationMs: 1.5,
  traceparents,
});

let sink = 0;
const measure = (what: string, run: (batch: AppliedBatch) => void): number => {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    for (let i = 0; i < calls; i++) run(batchAt(i));
    best = Math.min(best, performance.now() - started);
  }
  log(`${what.padEnd(40)} ${best.toFixed(1).padStart(7)} ms per ${calls} calls, ${((best * 1e6) / calls).toFixed(0).padStart(5)} ns per call`);
  return best;
};

const baseline = measure('building the batches only', (batch) => (sink += batch.events));
const noSdk = measure('recordBatchSpan, no SDK', recordBatchSpan);
trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler: new AlwaysOffSampler() }));
const sampledOut = measure('recordBatchSpan, SDK sampling nothing', recordBatchSpan);
trace.disable();
log(`added per call: no SDK ${(((noSdk - baseline) * 1e6) / calls).toFixed(0)} ns, SDK sampling nothing ${(((sampledOut - baseline) * 1e6) / calls).toFixed(0)} ns (sink ${sink > 0})`);
