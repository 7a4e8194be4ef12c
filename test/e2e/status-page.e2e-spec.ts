import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL, post } from './support/http';
import { rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

/**
 * The ops status page (/admin/ui) in a real headless Chromium: Debian's `chromium`, which .ci/run installs when it
 * is missing. Without it this file fails (it never skips): the page is only tested by a browser.
 */
const CHROMIUM = '/usr/bin/chromium';
const ADMIN_TOKEN = 'admin-token-status-page-0123456789abcdef';
const SECOND_KEY = 'sk-ant-second-provider-key-fedcba9876543210';
/** The page's polling interval (app.js REFRESH_MS); "within one refresh" allows this plus the page's own calls. */
const REFRESH_MS = 3_000;
const ONE_REFRESH_MS = REFRESH_MS + 2_000;
const ARTIFACTS = join(process.cwd(), '.ci', 'artifacts');

async function adminGet(base: string, path: string): Promise<Record<string, unknown>> {
  const res = await request(base + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return (await res.body.json()) as Record<string, unknown>;
}

describe('ops status page in headless Chromium', () => {
  const primaryFake = new FakeUpstream();
  const secondaryFake = new FakeUpstream();
  let relay: RunningRelay;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  /** Console errors and page errors (a CSP violation shows up here), and every URL the browser asked for. */
  const problems: string[] = [];
  const urls: string[] = [];

  const card = (name: string) => `[data-provider="${name}"]`;
  const waitForState = (name: string, state: string, timeout = ONE_REFRESH_MS) =>
    page.waitForSelector(`${card(name)}[data-state="${state}"]`, { timeout });
  const shot = (file: string) => page.screenshot({ path: join(ARTIFACTS, file), fullPage: true });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`,
      );
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    const primaryUrl = await primaryFake.start();
    const secondaryUrl = await secondaryFake.start();
    relay = await startRelay(
      rawConfig(primaryUrl, {
        providers: [
          {
            name: 'main-provider',
            base_url: primaryUrl,
            priority: 10,
            keys: [{ key: 'sk-ant-provider-secret-0123456789abcdef', rpm_limit: 50 }],
            models: [MINIMAL.model],
          },
          {
            name: 'backup-provider',
            base_url: secondaryUrl,
            priority: 5,
            keys: [{ key: SECOND_KEY }],
            models: [MINIMAL.model],
          },
        ],
        routing: { strategy: 'failover', retry: { max_attempts: 3, base_delay_ms: 0, max_delay_ms: 0 } },
        health: {
          circuit_breaker: { failure_threshold: 2, open_duration_ms: 600_000, half_open_probes: 1 },
          health_check: { enabled: false },
        },
        admin: { token: ADMIN_TOKEN },
      }),
    );
    profile = mkdtempSync(join(tmpdir(), 'cc-relay-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      // The wrong token's 401 is the one failed load expected here (Chromium logs each as an error).
      if (m.type() === 'error' && !m.text().includes('status of 401')) problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => urls.push(r.url()));
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await relay?.close();
    await primaryFake.close();
    await secondaryFake.close();
  });

  it('serves a static page without the token, with data nowhere in it and a self-only CSP', async () => {
    for (const path of ['/admin/ui', '/admin/ui/app.js', '/admin/ui/app.css', '/admin/ui/favicon.svg']) {
      const res = await request(relay.url + path);
      const text = await res.body.text();
      expect(res.statusCode, path).toBe(200);
      expect(res.headers['content-security-policy'], path).toMatch(/default-src 'self'/);
      expect(String(res.headers['content-security-policy'])).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      expect(text).not.toContain('main-provider');
      // Nothing from another origin (no CDN): the only absolute URL is the SVG namespace, which is a name, not a fetch.
      expect(text.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:\/\//);
    }
  });

  it('answers the time series to the admin token only, and names a bad step', async () => {
    const base = relay.url + '/admin/stats/timeseries';
    expect((await request(base)).statusCode).toBe(401);
    const bad = await request(`${base}?step=0`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const ts = await adminGet(relay.url, '/admin/stats/timeseries?step=10');
    expect(ts).toMatchObject({ window_s: 900, step_s: 10 });
    expect((ts.total as { requests: number[] }).requests).toHaveLength(90);
  });

  it('refuses a wrong token on the login form, then signs in with the admin token', async () => {
    await page.goto(`${relay.url}/admin/ui`);
    await page.waitForSelector('#login-form');
    await page.fill('#token', 'not-the-admin-token');
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:has-text("Wrong admin token")');
    expect(await page.isVisible('#dash')).toBe(false);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    await page.fill('#token', ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await waitForState('main-provider', 'closed');
    await waitForState('backup-provider', 'closed');
    expect(await page.textContent(`${card('main-provider')} .state`)).toBe('CLOSED');
    expect(await page.textContent('#meta')).toContain('Replica ');
    // cluster.mode local: no GET /admin/replicas, no replicas panel.
    expect(await page.isHidden('#replicas-panel')).toBe(true);
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([ADMIN_TOKEN]);
    await shot('status-page-closed.png');
  });

  it('shows an outage on the fake upstream as an OPEN circuit within one refresh, with its error and rates', async () => {
    primaryFake.script(() => ({ kind: 'status', status: 503 }));
    for (let i = 0; i < 2; i++) {
      const res = await post(relay.url, '/v1/messages', MINIMAL);
      await res.body.text();
      expect(res.statusCode).toBe(200); // served by secondary
    }
    expect((await adminGet(relay.url, '/admin/providers/main-provider')).state).toBe('open');

    await waitForState('main-provider', 'open');
    const primary = card('main-provider');
    expect(await page.textContent(`${primary} .state`)).toBe('OPEN');
    expect(await page.textContent(`${primary} .f-last-error`)).toContain('503');
    expect(await page.textContent(`${primary} .f-failures`)).toMatch(/^2 in a row/);
    // The rate chart counts the failed attempts of the last 15 minutes.
    const label = await page.getAttribute(`${primary} .chart svg`, 'aria-label');
    expect(label).toMatch(/[1-9]\d* errors/);
    await shot('status-page-open.png');
  });

  it('resets the circuit from the page after a confirmation (cancel changes nothing)', async () => {
    primaryFake.script(undefined);
    const reset = `${card('main-provider')} button.reset`;
    // By keyboard: Enter opens the confirmation, focused on Cancel; Escape closes it and nothing happens.
    await page.focus(reset);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#confirm[open]');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('confirm-cancel');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#confirm[open]', { state: 'hidden' });
    expect((await adminGet(relay.url, '/admin/providers/main-provider')).state).toBe('open');

    await page.click(reset);
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await waitForState('main-provider', 'closed');
    expect((await adminGet(relay.url, '/admin/providers/main-provider')).state).toBe('closed');
    expect(await page.textContent(`${card('main-provider')} .f-last-error`)).toBe('none');
  });

  it('forces a circuit open for the chosen duration after a confirmation', async () => {
    const primary = card('main-provider');
    await page.fill(`${primary} input.amount`, '2');
    await page.selectOption(`${primary} select.unit`, 'min');
    await page.fill(`${primary} input.reason`, 'failover drill');
    await page.click(`${primary} button.force-open`);
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-title')).toContain('2 minutes');
    await page.click('#confirm-ok');
    await waitForState('main-provider', 'open');
    expect(await page.textContent(`${primary} .state`)).toBe('OPEN (forced)');
    const state = await adminGet(relay.url, '/admin/providers/main-provider');
    expect(state).toMatchObject({ state: 'open', forced: true, open_duration_ms: 120_000 });
    await shot('status-page-forced.png');
  });

  it('shows a key cooling after a 429 in the key pool, with its usage against the limit', async () => {
    // main-provider is forced open: traffic goes to backup-provider, whose key the fake rate-limits.
    secondaryFake.script(() => ({ kind: 'status', status: 429, headers: { 'retry-after': '600' } }));
    const res = await post(relay.url, '/v1/messages', MINIMAL);
    await res.body.text();
    expect(res.statusCode).toBe(429);
    const backup = card('backup-provider');
    await page.waitForSelector(`${backup} .keys summary:has-text("1 cooling")`, { timeout: ONE_REFRESH_MS });
    expect(await page.textContent(`${backup} .keys tbody`)).toMatch(/cooling in \d+ min/);
    // main-provider's key has an rpm_limit: its row shows the requests of the last minute against it.
    expect(await page.textContent(`${card('main-provider')} .keys tbody`)).toMatch(/\d+ \/ 50/);
    secondaryFake.script(undefined);
    await page.click(`${backup} button.reset`);
    await page.click('#confirm-ok');
    await page.waitForSelector(`${backup} .keys summary:has-text("1 ready")`, { timeout: ONE_REFRESH_MS });
  });

  it('fits a 375 px wide phone screen and keeps the session across a reload', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await page.reload();
    await waitForState('main-provider', 'open');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    const box = await page.locator(card('main-provider')).boundingBox();
    expect(box!.width).toBeLessThanOrEqual(375);
    await shot('status-page-375.png');

    // Put the provider back for whatever runs next, then sign out: the token leaves the session.
    await page.click(`${card('main-provider')} button.reset`);
    await page.click('#confirm-ok');
    await waitForState('main-provider', 'closed');
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('never put the token in a URL or a log line, and the page ran without errors or CSP violations', () => {
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      expect(url.startsWith(relay.url), url).toBe(true);
      expect(url).not.toContain(ADMIN_TOKEN);
    }
    expect(relay.logs.filter((l) => l.includes(ADMIN_TOKEN))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
