import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type MetricsServerOptions = {
  /** 0 picks a free port. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
};

export type MetricsServer = { readonly url: string; close(): Promise<void> };

/** Serves `GET /metrics` (Prometheus text format) from `registry`, and `GET /status` as JSON when given. */
export const metricsServer = async (registry: Registry, options: MetricsServerOptions, status?: () => unknown): Promise<MetricsServer> => {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string): void => {
      response.writeHead(code, { 'content-type': type });
      response.end(body);
    };
    if (request.method !== 'GET') return send(405, 'text/plain', 'only GET\n');
    if (path === '/metrics')
      return void registry.metrics().then(
        (body) => send(200, registry.contentType, body),
        (error: unknown) => send(500, 'text/plain', `${(error as Error).message}\n`),
      );
    if (path === '/status' && status !== undefined)
      return send(200, 'application/json', JSON.stringify(status(), (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
    send(404, 'text/plain', `not found: ${path}; try /metrics\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
