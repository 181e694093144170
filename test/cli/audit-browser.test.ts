/**
 * The audit page as a person sees it: rendered by a real headless Chromium, then checked in the
 * DOM. A screenshot lands in test/.artifacts/ for a human to look at.
 */
import { enabledOrSkipped } from '../support/environment.js';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { expect, test } from 'vitest';
import { parseOtlpJson } from '../../src/cli/audit/otlp-json.js';
import { renderAuditHtml } from '../../src/cli/audit/render-html.js';
import { summarize } from '../../src/cli/audit/summarize.js';
import { AGENTS, CALLS, HOSTILE, auditFixture } from './audit-fixture.js';

// The page's own globals, for the callbacks that run inside Chromium; the project compiles without the DOM lib.
interface PageRect {
  readonly top: number;
  readonly left: number;
  readonly right: number;
}
declare const document: {
  createRange(): { selectNodeContents(node: unknown): void; getBoundingClientRect(): PageRect; getClientRects(): Iterable<PageRect> };
  readonly documentElement: { readonly scrollWidth: number; readonly clientWidth: number };
};

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url));

function chromiumEnabled(): boolean {
  return enabledOrSkipped(
    existsSync(CHROMIUM),
    `${CHROMIUM} is not installed: the audit page browser test is SKIPPED. Install it (Debian: apt-get install -y chromium) to run it.`,
  );
}

test.skipIf(!chromiumEnabled())('the audit page in Chromium: denials with codes, whole agent ids, details without hover', { timeout: 90_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const page = join(ARTIFACTS, 'audit.html');
  writeFileSync(page, renderAuditHtml(summarize(parseOtlpJson(auditFixture()))));
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1024, height: 800 },
  });
  try {
    const tab = context.pages()[0] ?? (await context.newPage());
    await tab.goto(pathToFileURL(page).href);

    // Every denial has its own visible row that names its code.
    const denials = CALLS.flatMap((c, i) => (c.decision === 'deny' ? [{ n: i + 1, code: c.code! }] : []));
    expect(denials).toHaveLength(4);
    for (const d of denials) {
      const row = tab.locator(`#call-${d.n}`);
      await expect.poll(() => row.isVisible()).toBe(true);
      expect(await row.locator('td.decision').innerText()).toBe(`denied: ${d.code}`);
    }

    // Each lane shows its agent's whole id, nothing clipped: the ids differ only at their end.
    const lanes = await tab.$$eval('.lane-name .agent', (els) =>
      els.map((el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const text = range.getBoundingClientRect();
        const box = el.getBoundingClientRect();
        const parent = el.parentElement!;
        return {
          text: el.textContent,
          visible: box.width > 0 && box.height > 0,
          fits: el.scrollWidth <= el.clientWidth && parent.scrollWidth <= parent.clientWidth,
          inside: text.left >= box.left - 0.5 && text.right <= box.right + 0.5,
        };
      }),
    );
    expect(lanes.map((l) => l.text).sort()).toEqual(Object.values(AGENTS).sort());
    for (const l of lanes) expect(l, l.text ?? '').toMatchObject({ visible: true, fits: true, inside: true });

    // Details that used to live only in a tooltip are on the page.
    const detail = async (n: number) => tab.locator(`#call-${n} + tr.detail`).innerText();
    expect(await tab.locator('#call-4 td.decision').innerText()).toBe('allowed, tool failed: UpstreamTimeoutError');
    expect(await detail(4)).toContain(`depth 1: ${AGENTS.planner} → ${AGENTS.researcher}`);
    expect(await tab.locator('#call-3 td.decision').innerText()).toBe('allowed after approval by oncall@example.com (waited 42.5 s)');
    expect(await detail(3)).toContain('refunds-need-a-human, business-hours');
    expect(await detail(3)).toContain('approved by oncall@example.com, waited 42.5 s');
    expect(await detail(3)).toContain('00000000000000000000004bf92f37');
    expect(await detail(5)).toContain('call_0005');
    expect(await detail(5)).toMatch(/span id\s*0000000000f067ae/);
    expect(await detail(5)).toMatch(/capability id\s*cap-0000a004/);
    expect(await detail(5)).toMatch(/root capability id\s*cap-root-0001/);
    expect(await tab.locator('.track a.mark.delegated').count()).toBe(3);

    // Nothing needs a sideways scroll at this width.
    expect(await tab.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);

    // A timestamp stays on one line.
    const lines = await tab.$$eval('td.time', (els) =>
      els.map((el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      }),
    );
    expect(lines).toEqual(CALLS.map(() => 1));

    // Markup in the spans stayed text.
    expect(await tab.locator('img, script').count()).toBe(0);
    expect(await tab.locator('body').innerText()).toContain(HOSTILE);

    await tab.screenshot({ path: join(ARTIFACTS, 'audit.png'), fullPage: true });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
