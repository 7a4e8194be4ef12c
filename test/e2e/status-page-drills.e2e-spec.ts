import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL, post } from './support/http';
import { rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

/** The status page's Drills and Availability panels in headless Chromium (see status-page.e2e-spec.ts). */
const CHROMIUM = '/usr/bin/chromium';
const ADMIN_TOKEN = 'admin-token-status-drills-0123456789abcdef';
const ONE_REFRESH_MS = 5_000;
const ARTIFACTS = join(process.cwd(), '.ci', 'artifacts');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers read field by field in the asserts
async function adminGet(base: string, path: string): Promise<Record<string, any>> {
  const res = await request(base + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return (await res.body.json()) as Record<string, unknown>;
}

async function launch(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
    viewport: { width: 1280, height: 900 },
  });
}

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/admin/ui`);
  await page.fill('#token', ADMIN_TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#dash:not([hidden])');
}

describe('status page: drills and availability panels', () => {
  const mainFake = new FakeUpstream();
  const backupFake = new FakeUpstream();
  let relay: RunningRelay;
  let bare: RunningRelay;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const drillRow = '[data-drill-row="main-off"]';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium`);
    mkdirSync(ARTIFACTS, { recursive: true });
    const mainUrl = await mainFake.start();
    const backupUrl = await backupFake.start();
    const providers = [
      {
        name: 'main-provider',
        base_url: mainUrl,
        priority: 10,
        keys: [{ key: 'sk-ant-main-0123456789abcdef' }],
      },
      {
        name: 'backup-provider',
        base_url: backupUrl,
        priority: 5,
        keys: [{ key: 'sk-ant-backup-0123456789abcdef' }],
      },
    ].map((p) => ({ ...p, models: [MINIMAL.model] }));
    const common = {
      providers,
      routing: { strategy: 'failover', retry: { max_attempts: 3, base_delay_ms: 0, max_delay_ms: 0 } },
      admin: { token: ADMIN_TOKEN },
    };
    relay = await startRelay(
      rawConfig(mainUrl, {
        ...common,
        drills: [{ name: 'main-off', provider: 'main-provider', every: '90d', duration_ms: 600_000 }],
      }),
    );
    bare = await startRelay(rawConfig(mainUrl, common));
    profile = mkdtempSync(join(tmpdir(), 'cc-relay-chromium-'));
    context = await launch(profile);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await relay?.close();
    await bare?.close();
    await mainFake.close();
    await backupFake.close();
  });

  it('hides both panels on a relay without drills or traffic', async () => {
    await signIn(page, bare.url);
    await page.waitForSelector('[data-provider="main-provider"]');
    // One more refresh, so both optional answers have been rendered.
    await page.waitForTimeout(ONE_REFRESH_MS);
    expect(await page.isVisible('#drills-panel')).toBe(false);
    expect(await page.isVisible('#availability-panel')).toBe(false);
    await page.click('#logout');
  });

  it('shows the configured drill, idle, with its schedule and next run', async () => {
    await signIn(page, relay.url);
    await page.waitForSelector(`#drills-panel:not([hidden]) ${drillRow}[data-running="false"]`, {
      timeout: ONE_REFRESH_MS,
    });
    const row = await page.textContent(drillRow);
    expect(row).toContain('main-provider');
    expect(row).toContain('every 90d');
    expect(row).toContain('no run yet');
    expect(await page.isVisible(`${drillRow} button.abort-drill`)).toBe(false);
  });

  it('runs the drill after a confirmation: running, provider forced OPEN with reason drill', async () => {
    // Cancel first (by keyboard): nothing starts.
    await page.focus(`${drillRow} button.run-drill`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#confirm[open]');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#confirm[open]', { state: 'hidden' });
    expect((await adminGet(relay.url, '/admin/drills')).drills[0].running).toBeNull();

    await page.click(`${drillRow} button.run-drill`);
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-title')).toContain('main-off');
    await page.click('#confirm-ok');
    await page.waitForSelector(`${drillRow}[data-running="true"]`, { timeout: ONE_REFRESH_MS });
    expect(await page.textContent(`${drillRow} .d-now`)).toBe('running');
    expect(await page.isVisible(`${drillRow} button.abort-drill`)).toBe(true);
    const card = '[data-provider="main-provider"]';
    await page.waitForSelector(`${card}[data-state="open"] .f-reason:has-text("drill")`, {
      timeout: ONE_REFRESH_MS,
    });
    expect(await page.textContent(`${card} .state`)).toBe('OPEN (forced)');
    expect(await page.textContent(`${card} .f-reason`)).toBe('drill (main-off)');
    const p = await adminGet(relay.url, '/admin/providers/main-provider');
    expect(p).toMatchObject({ state: 'open', forced: true });
  });

  it('shows delivered availability per provider after a few requests, today first', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await post(relay.url, '/v1/messages', MINIMAL);
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    }
    const today = new Date().toISOString().slice(0, 10);
    const row = `#availability-panel:not([hidden]) tr[data-day="${today}"][data-provider-row="backup-provider"]`;
    await page.waitForSelector(row, { timeout: ONE_REFRESH_MS * 2 });
    expect(await page.textContent(`${row} .a-success`)).toBe('100 %');
    expect(await page.textContent(row)).toContain('3 of 3');
    expect(await page.getAttribute('#availability tr:first-child', 'data-day')).toBe(today);
  });

  it('aborts the drill after a confirmation: verdict aborted, provider back', async () => {
    await page.click(`${drillRow} button.abort-drill`);
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForSelector(`${drillRow}[data-running="false"] .v-aborted`, { timeout: ONE_REFRESH_MS });
    expect(await page.textContent(`${drillRow} .d-verdict`)).toMatch(/^aborted/);
    expect(await page.isVisible(`${drillRow} button.run-drill`)).toBe(true);
    await page.waitForSelector('[data-provider="main-provider"][data-state="closed"]', {
      timeout: ONE_REFRESH_MS,
    });
    const drills = await adminGet(relay.url, '/admin/drills');
    expect(drills.drills[0].history[0].verdict).toBe('aborted');
  });

  it('fits a 375 px wide phone screen with both panels', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await page.reload();
    await page.waitForSelector(`#drills-panel:not([hidden]) ${drillRow}`, { timeout: ONE_REFRESH_MS });
    await page.waitForSelector('#availability-panel:not([hidden])', { timeout: ONE_REFRESH_MS });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-drills-375.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
