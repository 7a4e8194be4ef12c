import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from './support/breaker-relay';
import { ClusterWorld, REPLICAS } from './support/cluster-world';
import { nginxBinary } from '../support/nginx';
import { redisServerAvailable } from '../support/redis-server';

/**
 * The status page's replicas panel (GET /admin/replicas) as an operator sees it through the ingress: three relay
 * processes in cluster.mode redis behind nginx, the page in a real headless Chromium (Debian's, as in
 * status-page.e2e-spec.ts; without it this file fails).
 */
const CHROMIUM = '/usr/bin/chromium';
const ONE_REFRESH_MS = 5_000;

const runnable = redisServerAvailable() && nginxBinary() !== undefined;

describe.runIf(runnable)('status page: the replicas panel through nginx', () => {
  const world = new ClusterWorld();
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`,
      );
    }
    await world.start();
    profile = mkdtempSync(join(tmpdir(), 'cc-relay-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
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
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await world.stop();
  }, 30_000);

  it('lists every live replica with its version and one config, whichever replica serves the page', async () => {
    await page.goto(`${world.url}/admin/ui`);
    await page.waitForSelector('#login-form');
    await page.fill('#token', ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#replicas-panel:not([hidden])', { timeout: ONE_REFRESH_MS });
    await page.waitForFunction(
      `document.querySelectorAll('#replicas tr').length === ${REPLICAS}`,
      undefined,
      {
        timeout: ONE_REFRESH_MS,
      },
    );
    const rows = await page.evaluate<string[][]>(
      `Array.from(document.querySelectorAll('#replicas tr')).map((tr) => Array.from(tr.children).map((c) => c.textContent || ''))`,
    );
    expect(new Set(rows.map((r) => r[0])).size).toBe(REPLICAS);
    for (const row of rows) {
      expect(row[1]).not.toBe('–');
      expect(row[2]).not.toContain('differs');
      expect(row[5]).toMatch(/^\d+$/);
    }
    expect(await page.textContent('#replicas-note')).toBe(`${REPLICAS} live replicas, one config.`);
    expect(problems).toEqual([]);
  });
});
