import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Effect = { tenant: string; position: string; key: string };

export type EffectReceiver = {
  url: string;
  /** Every effect in arrival order, repeats included. */
  received: Effect[];
  /** Answers 500 to these keys until `accept`ed again. */
  refuse(key: string): void;
  accept(key: string): void;
  /** Answers a tenant's requests after this delay. */
  slow(tenant: string, ms: number): void;
  close(): Promise<void>;
};

/** A local HTTP server standing in for the outside system a reactor calls: it keeps what it got. */
export const startEffectReceiver = async (): Promise<EffectReceiver> => {
  const received: Effect[] = [];
  const refused = new Set<string>();
  const delays = new Map<string, number>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const effect = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Effect;
      setTimeout(() => {
        if (refused.has(effect.key)) {
          response.writeHead(500).end('refused');
          return;
        }
        received.push(effect);
        response.writeHead(200).end('ok');
      }, delays.get(effect.tenant) ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    refuse: (key) => void refused.add(key),
    accept: (key) => void refused.delete(key),
    slow: (tenant, ms) => void delays.set(tenant, ms),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

/** Per tenant, what arrived with consecutive repeats collapsed, and how many repeats there were and whether any was not consecutive. */
export const effectsByTenant = (received: readonly Effect[]): Map<string, { positions: string[]; repeats: number; keys: Set<string>; outOfOrderRepeats: number }> => {
  const out = new Map<string, { positions: string[]; repeats: number; keys: Set<string>; outOfOrderRepeats: number }>();
  for (const effect of received) {
    const entry = out.get(effect.tenant) ?? { positions: [], repeats: 0, keys: new Set(), outOfOrderRepeats: 0 };
    out.set(effect.tenant, entry);
    if (entry.positions.at(-1) === effect.position) entry.repeats++;
    else if (entry.keys.has(effect.key)) entry.outOfOrderRepeats++;
    else entry.positions.push(effect.position);
    entry.keys.add(effect.key);
  }
  return out;
};
