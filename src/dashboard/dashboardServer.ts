import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { DistributaryError } from '../core/errors.ts';
import { toJson } from '../core/toJson.ts';
import { dashboardApi, type DashboardApi, type Reply } from './dashboardApi.ts';
import { loadDashboardAssets, type Asset } from './dashboardAssets.ts';
import { resolveDashboardOptions, type DashboardServerOptions } from './dashboardOptions.ts';

export type DashboardServer = {
  /** Where the page is, e.g. `http://127.0.0.1:4400/`. */
  url: string;
  /** Stops listening, drops open connections and ends the database pool. */
  close(): Promise<void>;
};

const maxBodyBytes = 16 * 1024;

/** Scripts and styles only from the dashboard itself; uPlot sets inline styles on its elements. */
const pageHeaders = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

class BadRequest extends Error {}

const readJsonBody = async (request: IncomingMessage): Promise<unknown> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new BadRequest(`the request body is larger than ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BadRequest('the request body is not JSON');
  }
};

const route = async (api: DashboardApi, assets: Map<string, Asset>, request: IncomingMessage, url: URL): Promise<Reply | Asset> => {
  const method = request.method ?? 'GET';
  const action = /^\/api\/dead-letters\/([^/]+)\/(retry|discard)$/.exec(url.pathname);
  if (action !== null) {
    if (method !== 'POST') return { status: 405, json: { error: `${url.pathname} answers POST` }, headers: { Allow: 'POST' } };
    const [, id = '', verb] = action;
    const authorization = request.headers.authorization;
    return verb === 'retry' ? api.retry(id, authorization) : api.discard(id, authorization, await readJsonBody(request));
  }
  if (url.pathname === '/api/tenants/remove') {
    if (method !== 'POST') return { status: 405, json: { error: `${url.pathname} answers POST` }, headers: { Allow: 'POST' } };
    return api.removeTenant(request.headers.authorization, await readJsonBody(request));
  }
  if (url.pathname === '/api/rebuilds') {
    if (method !== 'POST') return { status: 405, json: { error: `${url.pathname} answers POST` }, headers: { Allow: 'POST' } };
    return api.rebuild(request.headers.authorization, await readJsonBody(request));
  }
  const asset = assets.get(url.pathname);
  const read = asset !== undefined || ['/api/settings', '/api/status', '/api/dead-letters'].includes(url.pathname);
  if (!read) return { status: 404, json: { error: `no route ${url.pathname}` } };
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, json: { error: `${url.pathname} answers GET` }, headers: { Allow: 'GET, HEAD' } };
  if (asset !== undefined) return asset;
  if (url.pathname === '/api/settings') return api.settings();
  if (url.pathname === '/api/status') return api.status(url.searchParams);
  return api.deadLetters(url.searchParams);
};

const send = (request: IncomingMessage, response: ServerResponse, answer: Reply | Asset): void => {
  const asset = 'body' in answer;
  const body = asset ? answer.body : Buffer.from(toJson(answer.json));
  response.writeHead(asset ? 200 : answer.status, {
    ...pageHeaders,
    'Content-Type': asset ? answer.contentType : 'application/json; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
    ...(asset ? {} : answer.headers),
  });
  response.end(request.method === 'HEAD' ? undefined : body);
};

/**
 * The live dashboard: one page over the status engines and relays write every second, and the
 * dead letters, from any machine with the database. Reading needs nothing; retrying and discarding
 * dead letters and asking for rebuilds need the token it was started with. Serves on node:http alone; a failing request
 * answers 500 with the error's message and leaves the server running.
 */
export const dashboardServer = async (options: DashboardServerOptions): Promise<DashboardServer> => {
  const resolved = resolveDashboardOptions(options);
  const { logger } = resolved;
  const assets = await loadDashboardAssets();
  const db = new pg.Pool({ connectionString: resolved.connectionString, max: 3 });
  // A dropped idle connection (a database restart) is replaced on next use; it must not end the process.
  db.on('error', (error) => logger.warn('dashboard: database connection lost', { error: error.message }));
  const api = dashboardApi(db, { token: resolved.token, refreshMs: resolved.refreshMs });

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    route(api, assets, request, url)
      .catch((error: unknown): Reply => {
        if (error instanceof BadRequest) return { status: 400, json: { error: error.message } };
        const message = error instanceof Error ? error.message : String(error);
        logger.error('dashboard: request failed', { method: request.method, path: url.pathname, error: message });
        return { status: 500, json: { error: message } };
      })
      .then((answer) => {
        // An action without the right token is worth knowing of: someone tried.
        if ('status' in answer && (answer.status === 401 || answer.status === 403))
          logger.warn('dashboard: refused an action without the right token', { method: request.method, path: url.pathname, status: answer.status, from: request.socket.remoteAddress });
        send(request, response, answer);
      })
      .catch((error: unknown) => {
        logger.warn('dashboard: could not answer', { path: url.pathname, error: error instanceof Error ? error.message : String(error) });
        response.destroy();
      });
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(resolved.port, resolved.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await db.end();
    throw new DistributaryError(`dashboardServer: cannot listen on ${resolved.host}:${resolved.port}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await db.end();
    },
  };
};
