import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ConfirmationEndpoints = {
  url: string;
  /** Per tenant, the idempotency keys of the confirmations it received, in order (a repeat counted once). */
  received: Map<string, string[]>;
  close(): Promise<void>;
};

/** A small HTTP server standing in for each tenant's order system: POST /tenants/<tenant>/confirmations. */
export const startConfirmationEndpoints = async (): Promise<ConfirmationEndpoints> => {
  const received = new Map<string, string[]>();
  const server = createServer((request, response) => {
    const match = /^\/tenants\/([^/]+)\/confirmations$/.exec(request.url ?? '');
    request.resume();
    request.on('end', () => {
      if (match === null || request.method !== 'POST') return void response.writeHead(404).end();
      const tenant = decodeURIComponent(match[1]!);
      const key = String(request.headers['idempotency-key'] ?? '');
      const keys = received.get(tenant) ?? [];
      if (!keys.includes(key)) keys.push(key);
      received.set(tenant, keys);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
