import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { dashboardServer } from '../../src/dashboard/dashboardServer.ts';
import { deadLetters, projectionEngine, silentLogger } from '../../src/index.ts';
import { readRebuilds } from '../../src/postgres/readRebuilds.ts';
import { useTestDatabase } from '../support/database.ts';
import { recordingLogger } from '../support/recordingLogger.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, foldFromStore, readModelTotals, type Totals } from '../support/workload.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);
const rebuildProjectors = new URL('../support/projections/rebuildLedgers.ts', import.meta.url);
const outputDirectory = fileURLToPath(new URL('../../test-output/', import.meta.url));
const token = 'dashboard-test-token';
const tenants = ['tenant-0', 'tenant-1', 'tenant-2', 'tenant-3'];

const launchChromium = () =>
  chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });

/** The little of the DOM the probes below use: the project compiles without the DOM library. */
type ProbedElement = { textContent: string | null; dataset: Record<string, string | undefined>; disabled?: boolean };
declare const document: { querySelector(selector: string): ProbedElement | null; querySelectorAll(selector: string): Iterable<ProbedElement> };

/** What the page shows, read from its DOM. */
const shown = (page: Page) =>
  page.evaluate(() => {
    const number = (testId: string) => Number((document.querySelector(`[data-testid="${testId}"]`)?.textContent ?? '').replace(/[^0-9.]/g, ''));
    const rows = (testId: string) => [...document.querySelectorAll(`[data-testid="${testId}"]`)].map((row) => ({ ...row.dataset }));
    return {
      applied: number('applied-total'),
      lag: number('lag-total'),
      throughput: number('throughput'),
      partitions: rows('partition-row'),
      deadLetters: rows('dead-letter-row'),
      rebuilds: rows('rebuild-row'),
      rebuildButtons: [...document.querySelectorAll('[data-testid="rebuild-button"], [data-testid="rebuild-all-button"]')].map((button) =>
        button.disabled === true ? 'disabled' : 'enabled',
      ),
      lagLegend: document.querySelector('[data-testid="lag-chart"] .u-legend')?.textContent ?? '',
      message: document.querySelector('[data-testid="message"]')?.textContent ?? '',
      actionsNote: document.querySelector('[data-testid="actions-note"]')?.textContent ?? '',
      ownership: [...document.querySelectorAll('[data-testid="ownership-thread"]')].map((item) => item.textContent),
      hosts: rows('host-row').length,
      actionButtons: [...document.querySelectorAll('[data-testid="dead-letter-row"] button')].map((button) => (button.disabled === true ? 'disabled' : 'enabled')),
    };
  });

/** Polls the page's DOM until `check` holds. */
const pageShows = (page: Page, what: string, check: (view: Awaited<ReturnType<typeof shown>>) => boolean, timeoutMs = 20_000) =>
  waitUntil(`the page shows ${what}`, async () => check(await shown(page)), timeoutMs, 50);

const key = (tenant: string) => `ledger-hash/${tenant}`;

describe('the dashboard', () => {
  const database = useTestDatabase();

  it('shows tenants, lag and throughput live in a browser, and retries or discards dead letters from the page with the token', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: tenants.length, carts: 10, events: 400, seed: 11 });
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, threads: 2, reader: { markIntervalMs: 200 } });
    await engine.start();
    const dashboard = await dashboardServer({ connectionString, token, refreshMs: 300, logger: silentLogger });
    const readOnly = await dashboardServer({ connectionString, refreshMs: 300, logger: silentLogger });
    const browser = await launchChromium();
    const store = getPostgreSQLEventStore(connectionString);
    try {
      const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${dashboard.url}#token=${token}`);
      expect(page.url()).toBe(dashboard.url);

      await pageShows(page, 'every tenant caught up', (view) =>
        tenants.every((tenant) => view.partitions.some((p) => p.key === key(tenant) && p.state === 'idle' && p.lagEvents === '0')),
      );
      const caughtUp = await shown(page);
      expect(caughtUp.applied).toBe(400);
      expect(caughtUp.partitions.map((p) => p.key).sort()).toEqual(tenants.map(key));
      expect(caughtUp.hosts).toBe(1);
      expect(caughtUp.ownership.reduce((sum, item) => sum + Number(/: (\d+) partition/.exec(item!)![1]), 0)).toBe(tenants.length);
      expect(caughtUp.actionsNote).toContain('Retry applies the event again');

      // Slow events: one batch of 40 at 100 ms each keeps tenant-1 behind for seconds.
      const sawThroughput = page.waitForFunction(
        () => Number((document.querySelector('[data-testid="throughput"]')?.textContent ?? '').replace(/[^0-9.]/g, '')) > 0,
        null,
        { polling: 50, timeout: 30_000 },
      );
      await store.appendToStream(
        'cart-slow',
        Array.from({ length: 40 }, () => ({ type: 'ItemAdded', data: { cartId: 'slow', amount: 1, delayMs: 100 }, metadata: { tenant: 'tenant-1' } })),
      );
      await pageShows(page, 'tenant-1 behind', (view) => view.lag > 0 && Number(view.partitions.find((p) => p.key === key('tenant-1'))?.lagEvents) > 0);
      const behind = await shown(page);
      expect(behind.partitions[0]!.key).toBe(key('tenant-1'));
      await pageShows(page, 'tenant-1 caught up again', (view) => view.lag === 0 && view.applied === 440);
      await sawThroughput;
      expect((await shown(page)).lagLegend).toContain(key('tenant-1'));

      // Poison events halt tenant-2 and tenant-3 in front of them; the events after them wait.
      for (const tenant of ['tenant-2', 'tenant-3'])
        await store.appendToStream(`cart-poison-${tenant}`, [
          { type: 'ItemAdded', data: { cartId: `poisoned-${tenant}`, amount: 1, poison: true }, metadata: { tenant } },
          { type: 'ItemAdded', data: { cartId: `after-poison-${tenant}`, amount: 1 }, metadata: { tenant } },
        ]);
      await pageShows(page, 'the halted partitions and their dead letters', (view) =>
        ['tenant-2', 'tenant-3'].every(
          (tenant) =>
            view.partitions.some((p) => p.key === key(tenant) && p.state === 'halted') &&
            view.deadLetters.some((d) => d.key === key(tenant) && d.status === 'halted'),
        ),
      );
      const retry = page.locator(`[data-testid="dead-letter-row"][data-key="${key('tenant-2')}"] [data-testid="retry-button"]`);
      await mkdir(outputDirectory, { recursive: true });
      await page.screenshot({ path: `${outputDirectory}dashboard.png`, fullPage: true });

      // Without a token configured, the same letter shows with its buttons disabled.
      const readOnlyPage = await context.newPage();
      await readOnlyPage.goto(readOnly.url);
      await pageShows(readOnlyPage, 'the dead letters read-only', (view) => view.deadLetters.length === 2);
      const readOnlyView = await shown(readOnlyPage);
      expect(readOnlyView.actionsNote).toBe('The dashboard was started without a token: retry and discard are disabled.');
      expect(readOnlyView.actionButtons).toEqual(['disabled', 'disabled', 'disabled', 'disabled']);
      expect((await shown(page)).actionButtons).toEqual(['enabled', 'enabled', 'enabled', 'enabled']);
      await readOnlyPage.close();

      // Discarding asks for a reason; tenant-3 resumes without its poison event.
      page.once('dialog', (dialog) => void dialog.accept('duplicate order, refunded by hand'));
      await page.locator(`[data-testid="dead-letter-row"][data-key="${key('tenant-3')}"] [data-testid="discard-button"]`).click();
      await pageShows(page, 'tenant-3 resumed past its discarded letter', (view) =>
        !view.deadLetters.some((d) => d.key === key('tenant-3')) && view.partitions.some((p) => p.key === key('tenant-3') && p.state === 'idle'),
      );
      expect((await deadLetters({ connectionString }).list({ partition: 'tenant-3' })).map((l) => [l.status, l.discardReason])).toEqual([
        ['discarded', 'duplicate order, refunded by hand'],
      ]);

      await db.query("INSERT INTO ledger_fixes VALUES ('ledger-hash')");
      await retry.click();
      await pageShows(page, 'the retry accepted', (view) => view.message.includes('marked for retry'));
      await pageShows(page, 'tenant-2 resumed without dead letters', (view) =>
        view.deadLetters.length === 0 && view.partitions.some((p) => p.key === key('tenant-2') && p.state === 'idle' && p.lagEvents === '0'),
      );
      expect((await deadLetters({ connectionString }).list({ partition: 'tenant-2' })).map((l) => l.status)).toEqual(['resolved']);
      const { rows } = await db.query<{ cart_id: string }>(
        "SELECT cart_id FROM ledger_totals WHERE projector = 'ledger-hash' AND cart_id LIKE '%poison%' ORDER BY 1",
      );
      expect(rows.map((r) => r.cart_id)).toEqual(['after-poison-tenant-2', 'after-poison-tenant-3', 'poisoned-tenant-2']);
      // The poison event and the one after it, applied after the retry.
      expect(Number((await shown(page)).partitions.find((p) => p.key === key('tenant-2'))!.applied)).toBeGreaterThanOrEqual(2);
      expect(pageErrors).toEqual([]);
    } finally {
      await store.close();
      await browser.close();
      await readOnly.close();
      await dashboard.close();
      await engine.stop();
    }
  });

  it('refuses dead letter actions without the right token and answers bad requests and failures as JSON errors', async () => {
    const { connectionString } = database;
    const logged = recordingLogger();
    const dashboard = await dashboardServer({ connectionString, token, logger: logged });
    const readOnly = await dashboardServer({ connectionString, logger: logged });
    const missing = new URL(connectionString);
    missing.pathname = '/no_such_database';
    const broken = await dashboardServer({ connectionString: missing.toString(), logger: silentLogger });
    const call = async (base: string, path: string, init: RequestInit = {}) => {
      const response = await fetch(new URL(path, base), init);
      return { status: response.status, body: (await response.json()) as { error?: string } };
    };
    const post = (base: string, path: string, bearer?: string, body: unknown = {}) =>
      call(base, path, { method: 'POST', body: JSON.stringify(body), headers: bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` } });
    try {
      expect(new URL(dashboard.url).hostname).toBe('127.0.0.1');
      expect(await post(dashboard.url, 'api/dead-letters/1/retry')).toMatchObject({ status: 401 });
      expect(await post(dashboard.url, 'api/dead-letters/1/retry', 'not-the-token')).toEqual({ status: 401, body: { error: 'wrong token' } });
      expect(await post(dashboard.url, 'api/dead-letters/1/discard', 'not-the-token', { reason: 'x' })).toMatchObject({ status: 401 });
      const refused = await post(readOnly.url, 'api/dead-letters/1/retry', token);
      expect(refused.status).toBe(403);
      expect(refused.body.error).toContain('started without a token');
      expect(await post(dashboard.url, 'api/dead-letters/999999/retry', token)).toMatchObject({ status: 409 });
      expect(await post(dashboard.url, 'api/dead-letters/999999/discard', token, { reason: ' ' })).toMatchObject({ status: 400 });
      expect(await post(dashboard.url, 'api/dead-letters/999999/discard', token, { reason: 'gone' })).toEqual({
        status: 409,
        body: { error: 'no dead letter with id 999999' },
      });
      expect(await post(dashboard.url, 'api/dead-letters/abc/retry', token)).toMatchObject({ status: 400 });

      // Rebuilds: behind the same token; the projector must be one that ran here (ledger-hash, in the test above).
      expect(await post(dashboard.url, 'api/rebuilds', undefined, { processorId: 'ledger-hash' })).toMatchObject({ status: 401 });
      expect(await post(dashboard.url, 'api/rebuilds', 'not-the-token', { processorId: 'ledger-hash' })).toEqual({ status: 401, body: { error: 'wrong token' } });
      const rebuildRefused = await post(readOnly.url, 'api/rebuilds', token, { processorId: 'ledger-hash' });
      expect(rebuildRefused.status).toBe(403);
      expect(rebuildRefused.body.error).toContain('started without a token');
      const noProjector = await post(dashboard.url, 'api/rebuilds', token, {});
      expect(noProjector.status).toBe(400);
      expect(noProjector.body.error).toContain('a rebuild needs the projector');
      expect(await post(dashboard.url, 'api/rebuilds', token, { processorId: 'ledger-hash', partition: 7 })).toMatchObject({ status: 400 });
      expect(await post(dashboard.url, 'api/rebuilds', token, { processorId: 'no-such-projector' })).toEqual({
        status: 400,
        body: { error: "no projector 'no-such-projector' has run against this database: nothing to rebuild" },
      });
      expect(await call(dashboard.url, 'api/rebuilds')).toMatchObject({ status: 405 });

      // Removing a tenant: behind the same token.
      const removal = { tenant: "gone 'tenant'", purgeReadModels: true };
      expect(await post(dashboard.url, 'api/tenants/remove', undefined, removal)).toMatchObject({ status: 401 });
      expect(await post(readOnly.url, 'api/tenants/remove', token, removal)).toMatchObject({ status: 403 });
      expect(await post(dashboard.url, 'api/tenants/remove', token, { tenant: '' })).toMatchObject({ status: 400 });
      expect(await post(dashboard.url, 'api/tenants/remove', token, { tenant: 'x', purgeReadModels: 'yes' })).toMatchObject({ status: 400 });
      expect(await database.db.query('SELECT 1 FROM distributary_removed_tenants')).toMatchObject({ rowCount: 0 });
      expect(await post(dashboard.url, 'api/tenants/remove', token, removal)).toEqual({ status: 202, body: removal });
      expect((await database.db.query('SELECT partition, purge FROM distributary_removed_tenants')).rows).toEqual([{ partition: removal.tenant, purge: true }]);
      // Every refused action was logged, and nothing else.
      expect(logged.lines.filter((line) => line.message === 'dashboard: refused an action without the right token')).toHaveLength(9);
      expect(logged.lines.filter((line) => line.message !== 'dashboard: refused an action without the right token')).toEqual([]);
      expect(await readRebuilds(database.db, {})).toEqual([]);
      expect(await call(dashboard.url, 'api/dead-letters/1/retry')).toMatchObject({ status: 405 });
      expect(await call(dashboard.url, 'api/dead-letters?status=lost')).toMatchObject({ status: 400 });
      expect(await call(dashboard.url, 'api/nothing')).toEqual({ status: 404, body: { error: 'no route /api/nothing' } });
      expect(await call(dashboard.url, 'api/settings')).toEqual({ status: 200, body: { refreshMs: 2000, actions: true } });
      expect(await call(readOnly.url, 'api/settings')).toEqual({ status: 200, body: { refreshMs: 2000, actions: false } });

      const failed = await call(broken.url, 'api/status');
      expect(failed.status).toBe(500);
      expect(failed.body.error).toContain('no_such_database');
      expect((await call(broken.url, 'api/dead-letters')).status).toBe(500);
      expect((await fetch(broken.url)).status).toBe(200);
      const uplot = await fetch(new URL('assets/uPlot.iife.min.js', dashboard.url));
      expect([uplot.status, uplot.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);

      await expect(dashboardServer({ connectionString, prot: 4400 } as Parameters<typeof dashboardServer>[0])).rejects.toThrow(
        'dashboardServer: unknown option options.prot',
      );
      await expect(dashboardServer({ connectionString, port: 70_000 })).rejects.toThrow('dashboardServer: options.port must be a port number from 0 to 65535, got 70000');
      await expect(dashboardServer({ connectionString, token: '' })).rejects.toThrow('dashboardServer: options.token must be a non-empty string');
    } finally {
      await Promise.all([dashboard.close(), readOnly.close(), broken.close()]);
    }
  });
});

const only = (totals: Totals, tenant: string): Totals => new Map([...totals].filter(([cart]) => cart.startsWith(`${tenant}/`)));

describe('rebuilding from the dashboard', () => {
  const database = useTestDatabase();

  it('rebuilds a corrupted partition, then a whole projector, from their buttons with the token, showing each rebuild done with the read model equal to the fold', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: tenants.length, carts: 20, events: 2000, seed: 23 });
    const engine = projectionEngine({ connectionString, projectors: rebuildProjectors, logger: silentLogger, threads: 2, reader: { markIntervalMs: 100 } });
    await engine.start();
    const dashboard = await dashboardServer({ connectionString, token, refreshMs: 300, logger: silentLogger });
    const browser = await launchChromium();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const page = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 1000 } })).newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const questions: string[] = [];
      page.on('dialog', (dialog) => {
        questions.push(dialog.message());
        void dialog.accept();
      });
      await page.goto(`${dashboard.url}#token=${token}`);
      await pageShows(page, 'every partition of both projectors caught up, with enabled rebuild buttons', (view) =>
        ['ledger-rebuild', 'ledger-whole'].every((projector) =>
          tenants.every((tenant) => view.partitions.some((p) => p.key === `${projector}/${tenant}` && p.state === 'idle')),
        ) && view.rebuildButtons.length === 2 * tenants.length + 2 && view.rebuildButtons.every((state) => state === 'enabled'),
      );
      expect((await shown(page)).rebuilds).toEqual([]);

      // Corruption in tenant-2 of ledger-rebuild, whose projector can delete one tenant's rows.
      await db.query("UPDATE ledger_totals SET total = total + 999 WHERE projector = 'ledger-rebuild' AND tenant = 'tenant-2'");
      expect(only(await readModelTotals(db, 'ledger-rebuild'), 'tenant-2')).not.toEqual(only(await foldFromStore(db), 'tenant-2'));
      await page.locator('[data-testid="partition-row"][data-key="ledger-rebuild/tenant-2"] [data-testid="rebuild-button"]').click();
      await pageShows(page, 'the rebuild of ledger-rebuild/tenant-2 done', (view) =>
        view.rebuilds.some((r) => r.key === 'ledger-rebuild/tenant-2' && r.status === 'done' && r.progress === '1'),
      );
      expect(questions).toEqual([expect.stringMatching(/^Rebuild ledger-rebuild\/tenant-2\? Its rows are deleted/)]);
      expect((await shown(page)).message).toMatch(/^Rebuild \d+ of ledger-rebuild\/tenant-2 requested/);
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-rebuild')).toEqual(await foldFromStore(db));

      // The whole of ledger-whole, from its projector row.
      await db.query("UPDATE ledger_totals SET total = 0 WHERE projector = 'ledger-whole'");
      await page.locator('[data-testid="projector-row"][data-projector="ledger-whole"] [data-testid="rebuild-all-button"]').click();
      await pageShows(page, 'the rebuild of all of ledger-whole done', (view) => view.rebuilds.some((r) => r.key === 'ledger-whole' && r.status === 'done'));
      expect(questions[1]).toMatch(/^Rebuild all of ledger-whole\? Its read models are emptied/);
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-whole')).toEqual(await foldFromStore(db));

      await mkdir(outputDirectory, { recursive: true });
      await page.screenshot({ path: `${outputDirectory}dashboard-rebuilds.png`, fullPage: true });

      const rebuilds = await readRebuilds(db, {});
      expect(rebuilds.map((r) => [r.processorId, r.partition, r.status, r.error])).toEqual([
        ['ledger-whole', null, 'done', null],
        ['ledger-rebuild', 'tenant-2', 'done', null],
      ]);
      expect(rebuilds.every((r) => r.replayed > 0)).toBe(true);
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
      await dashboard.close();
      await engine.stop();
    }
  });
});
