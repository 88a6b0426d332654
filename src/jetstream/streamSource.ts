import type { KV } from '@nats-io/kv';
import { openTenantRegistry } from './tenantRegistry.ts';
import { natsAuthOptions } from './natsAuth.ts';
import { sharedManager } from './jetstreamClients.ts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { abortableSleep } from '../core/abortableSleep.ts';
import { WaitTimeoutError } from '../core/errors.ts';
import { partitionIdentity } from '../core/partitionIdentity.ts';
import { BeforeFirstPosition, comparePositions, type Position } from '../core/position.ts';
import { describeFailure } from '../core/isTransientError.ts';
import { retryUntilAborted } from '../core/retryUntilAborted.ts';
import { wakeable } from '../core/wakeable.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readHaltedPartitions } from '../postgres/readHaltedPartitions.ts';
import type { StoppedPartition } from '../router/partitionRouter.ts';
import type { Source, SourceContext } from '../router/source.ts';
import type { EngineRole } from '../router/status.ts';
import { consumersToDrain, undrainedConsumers, type ConsumerToDrain } from './drainedConsumers.ts';
import { relayProcessorId } from './relaySession.ts';
import { streamMember, type StreamMember, type StreamSourceOptions } from './streamMember.ts';

/** How often whenCaughtUp looks at the relay's checkpoint. */
const RelayCheckMs = 100;

/*
 * Scale-out: the host is a member of its group for as long as it runs, sharing the (projector,
 * tenant) partitions of the relay's tenant streams with the other members; a member that fails
 * (a thread died) is replaced by a new one after a backoff.
 *   start ──connected, registry open, member joined──> member ──stop──> stopped
 */
export const streamSource = (context: SourceContext<StreamSourceOptions>): Source => {
  const { options, db } = context;
  const { logger, transport } = options;
  const progressed = wakeable();
  const onProgress = (): void => {
    progressed.wake();
    context.onProgress();
  };
  const stopping = new AbortController();
  let role: EngineRole = 'stopped';
  let nc: NatsConnection | undefined;
  let registry: KV | undefined;
  let member: StreamMember | undefined;
  let loop: Promise<void> | undefined;

  const join = (connection: NatsConnection, tenants: KV): Promise<StreamMember | undefined> =>
    retryUntilAborted(() => Promise.resolve().then(() => streamMember({ ...context, nc: connection, registry: tenants, onProgress })), {
      signal: stopping.signal,
      onError: (error) => logger.warn(`${options.hostId}: could not join group '${options.group}': ${describeFailure(error)}`),
    });

  const runMembers = async (first: StreamMember, connection: NatsConnection, tenants: KV): Promise<void> => {
    for (let current: StreamMember | undefined = first; current !== undefined; ) {
      member = current;
      role = 'member';
      onProgress();
      const ended = current.run();
      if (stopping.signal.aborted) await current.stop();
      const reason = await ended;
      if (stopping.signal.aborted) return;
      logger.warn(`${options.hostId}: member of group '${options.group}' ended (${reason}); joining again`);
      await current.stop();
      member = undefined;
      onProgress();
      await abortableSleep(500, stopping.signal);
      current = await join(connection, tenants);
    }
  };

  /** Waits until the relay of the app has published everything up to `target`. */
  const waitForRelay = async (target: Position, deadline: number): Promise<void> => {
    for (;;) {
      const relayed = (await readCheckpoints(db, relayProcessorId(transport.app), 1)).get('emt:default') ?? BeforeFirstPosition;
      if (comparePositions(relayed, target) >= 0) return;
      if (Date.now() > deadline) throw new WaitTimeoutError(`the relay of '${transport.app}' did not reach position ${target.global} in time`);
      await abortableSleep(RelayCheckMs);
    }
  };

  /** Partitions halted in front of a dead letter on whichever host, and those stopped here. */
  const stoppedAnywhere = async (processorIds: readonly string[]): Promise<StoppedPartition[]> => {
    const halted = await Promise.all(
      context.projectors.filter((projector) => processorIds.includes(projector.processorId)).map(async (projector) =>
        [...(await readHaltedPartitions(db, projector.processorId))].map((partition) => ({ processorId: projector.processorId, partition, state: 'halted' as const })),
      ),
    );
    const here = (member?.stopped() ?? []).filter((s) => processorIds.includes(s.processorId));
    const seen = new Set(here.map((s) => partitionIdentity(s.processorId, s.partition)));
    return [...here, ...halted.flat().filter((h) => !seen.has(partitionIdentity(h.processorId, h.partition)))];
  };

  return {
    async start() {
      nc = await connect({ servers: transport.servers, ...natsAuthOptions(transport.credentials), maxReconnectAttempts: -1, name: `distributary-${options.hostId}` });
      registry = await openTenantRegistry(nc, transport.app, stopping.signal, logger);
      const [connection, tenants] = [nc, registry];
      if (tenants === undefined) return;
      const first = await join(connection, tenants);
      if (first === undefined) return;
      role = 'member';
      loop = runMembers(first, connection, tenants);
    },
    role: () => role,
    async whenCaughtUp(target, timeoutMs, only) {
      const processorIds = only ?? context.projectors.map((projector) => projector.processorId);
      const [connection, tenants] = [nc, registry];
      if (connection === undefined || tenants === undefined) throw new WaitTimeoutError('the stream source is not started');
      const deadline = Date.now() + timeoutMs;
      await waitForRelay(target, deadline);
      const jsm = await sharedManager(connection);
      // A busy server may time out a request (thousands of consumers being set up): asked again, until the deadline.
      const patiently = <T>(ask: () => Promise<T>): Promise<T> =>
        retryUntilAborted(ask, {
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
          onError: () => undefined,
        }).then((result) => {
          if (result === undefined) throw new WaitTimeoutError(`the JetStream API did not answer within ${timeoutMs} ms`);
          return result;
        });
      let left: ConsumerToDrain[] = await patiently(() => consumersToDrain(tenants, processorIds));
      for (;;) {
        const stopped = await stoppedAnywhere(processorIds);
        const keys = new Set(stopped.map((s) => partitionIdentity(s.processorId, s.partition)));
        left = left.filter((pair) => !keys.has(partitionIdentity(pair.processorId, pair.tenant)));
        const pairs = left;
        left = await patiently(() => undrainedConsumers(jsm, pairs));
        if (left.length === 0) return { stopped };
        if (Date.now() >= deadline)
          throw new WaitTimeoutError(
            `the tenant streams were not drained within ${timeoutMs} ms: ${left.slice(0, 10).map((pair) => `${pair.processorId}/${pair.tenant}`).join(', ')}${left.length > 10 ? ', ...' : ''}`,
          );
        // Many partitions still catching up: look less often, the server has better things to do.
        await progressed.wait(Math.min(100, deadline - Date.now()));
        if (left.length > 100) await abortableSleep(Math.min(1000, Math.max(0, deadline - Date.now())));
      }
    },
    router: () => member?.router,
    status: () => ({ readerPosition: null, hosts: member?.hosts() ?? [], projectors: member?.status() ?? [] }),
    async stop() {
      stopping.abort();
      await member?.stop();
      await loop;
      await nc?.drain().catch(() => undefined);
      role = 'stopped';
    },
  };
};
