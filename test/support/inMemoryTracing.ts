import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type Sampler } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll } from 'vitest';

export type InMemoryTracing = {
  /** Spans ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  named(name: string): ReadableSpan[];
  reset(): void;
};

/** Registers an OpenTelemetry SDK exporting to memory (and an async context manager) around a describe block's tests. */
export const useInMemoryTracing = (options: { sampler?: Sampler } = {}): InMemoryTracing => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)], ...options });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    if (!trace.setGlobalTracerProvider(provider)) throw new Error('another tracer provider is registered');
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });
  return {
    spans: () => exporter.getFinishedSpans(),
    named: (name) => exporter.getFinishedSpans().filter((span) => span.name === name),
    reset: () => exporter.reset(),
  };
};

/** A span's time as milliseconds since the epoch. */
export const epochMs = ([seconds, nanos]: [number, number]): number => seconds * 1000 + nanos / 1e6;
