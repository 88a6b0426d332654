import { createRequire } from 'node:module';
import { ProxyTracerProvider, trace, type Tracer } from '@opentelemetry/api';

// package.json is two levels up from src/tracing and from dist/tracing alike.
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * distributary's tracer, asked of the global provider on every use so that a provider registered
 * (or replaced) after this module loaded is the one used. Without an SDK it makes non-recording spans.
 */
export const distributaryTracer = (): Tracer => trace.getTracer('distributary', version);

const noProvider = new ProxyTracerProvider().getDelegate();
let checkedAt = 0;
let registered = false;

/**
 * Whether an OpenTelemetry SDK registered a tracer provider (looked at once a second): without one,
 * the engine does not even collect its events' trace contexts.
 */
export const tracingRegistered = (): boolean => {
  const now = Date.now();
  if (now - checkedAt < 1000) return registered;
  checkedAt = now;
  const provider = trace.getTracerProvider();
  registered = !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== noProvider;
  return registered;
};
