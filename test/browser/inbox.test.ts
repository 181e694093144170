/**
 * The approvals inbox as an approver uses it, in a real headless Chromium: sign in through a
 * real OpenID provider (its login and consent pages), see what a guard in another process is
 * waiting for (it asks the approvals service over HTTP with createRemoteApprover),
 * approve one (the call completes), deny one with a reason (the call is refused with that
 * reason), and watch one run out of time. A request with hostile arguments renders inert and
 * readable. Screenshots land in test/.artifacts/.
 */
import { enabledOrSkipped } from '../support/environment.js';
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { createMemoryApprovalsStore } from '../../src/server/approvals/store.js';
import { startInboxRig } from '../server/approvals/inbox-support.js';
import { AGENT, startService, trustDomain } from '../server/approvals/support.js';

// The page's own globals, for callbacks that run inside Chromium; the project compiles without the DOM lib.
declare const document: { readonly documentElement: { readonly scrollWidth: number; readonly clientWidth: number } };
declare const window: Record<string, unknown>;

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url));
const WORKER = fileURLToPath(new URL('./workers/payments-guard.ts', import.meta.url));

function chromiumEnabled(): boolean {
  return enabledOrSkipped(
    existsSync(CHROMIUM),
    `${CHROMIUM} is not installed: the approvals inbox browser test is SKIPPED. Install it (Debian: apt-get install -y chromium) to run it.`,
  );
}

type Done = { type: 'done'; n: number; ok: boolean; result?: unknown; code?: string; reason?: string; ran: string[] };
type Message = { type: 'submitted'; n: number; id: string } | Done;

/** The payments agent's guard in its own process, talking to the approvals service over HTTP. */
async function startGuardProcess(base: string, identityToken: string) {
  const proc = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, (m: Message) => void>();
  proc.on('message', (m: Message) => waiting.get(`${m.type}:${m.n}`)?.(m));
  const next = <T extends Message>(type: T['type'], n: number) => new Promise<T>((resolve) => waiting.set(`${type}:${n}`, resolve as (m: Message) => void));
  proc.send({ type: 'init', base, identityToken });
  let n = 0;
  return {
    /** Makes one guarded refund; resolves with the service's request id once it waits for a person. */
    async call(args: { orderId: string; amount: number; note?: string }, approvalTimeoutMs: number): Promise<{ id: string; done: Promise<Done> }> {
      const k = ++n;
      const submitted = next<Extract<Message, { type: 'submitted' }>>('submitted', k);
      const done = next<Done>('done', k);
      proc.send({ type: 'call', n: k, args, approvalTimeoutMs });
      return { id: (await submitted).id, done };
    },
    stop: () => proc.kill(),
  };
}

async function signIn(tab: Page, inboxUrl: string, user: string): Promise<void> {
  await tab.goto(`${inboxUrl}/inbox`);
  // oidc-provider's development login page, then its consent page.
  await tab.locator('input[name=login]').fill(user);
  await tab.locator('input[name=password]').fill('any password');
  await tab.locator('button[type=submit]').click();
  await tab.locator('button[type=submit]').click();
  await tab.waitForURL(`${inboxUrl}/inbox`);
}

/** Another site (localhost, not 127.0.0.1) whose page submits a decision form to the inbox as soon as it loads. */
async function serveAttacker(action: string, token: string): Promise<{ url: string; stop(): Promise<void> }> {
  const page =
    `<!doctype html><form method="post" action="${action}"><input name="csrf" value="${token}"><input name="decision" value="approve"></form>` +
    '<script>document.forms[0].submit()</script>';
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://localhost:${(server.address() as AddressInfo).port}/`,
    stop: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

const card = (tab: Page, text: string) => tab.locator('article.request', { hasText: text });

test.skipIf(!chromiumEnabled())('an approver signs in, approves one call, denies another with a reason, and lets a third run out', { timeout: 60_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // The approvals service and the inbox share one store, as instances sharing one Redis would.
  const store = createMemoryApprovalsStore();
  const td = await trustDomain();
  const service = await startService(td, store);
  const rig = await startInboxRig({ store });
  const guard = await startGuardProcess(service.base, await td.svid(AGENT));
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1024, height: 900 },
  });
  const violations: string[] = [];
  try {
    const tab = context.pages()[0] ?? (await context.newPage());
    tab.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
    });
    await signIn(tab, rig.inboxUrl, 'alice');
    await expect.poll(() => tab.locator('header .who').innerText()).toContain('Alice Payments');
    expect(await tab.locator('header .roles').innerText()).toBe('Roles: payments-approvers');

    // 1. Approve: the guarded call completes.
    const approved = await guard.call({ orderId: 'order-1001', amount: 40 }, 20_000);
    await tab.reload();
    const first = card(tab, 'order-1001');
    expect(await first.locator('.agent').innerText()).toBe(AGENT);
    expect(await first.locator('.tool').innerText()).toBe('payments.refund');
    expect(await first.locator('.risk').innerText()).toBe('external');
    expect(await first.locator('.intent').innerText()).toBe('Refund damaged orders (refunds-2611)');
    expect(await first.locator('.why').innerText()).toContain('needs a human');
    const before = await first.locator('.countdown').innerText();
    expect(before).toMatch(/^(\d+s|\d+m \d+s)$/);
    await expect.poll(() => first.locator('.countdown').innerText(), { timeout: 3000 }).not.toBe(before);
    await first.locator('input[name=reason]').fill('damaged in transit');
    await first.locator('button.approve').click();
    await tab.waitForURL(`${rig.inboxUrl}/inbox?done=approved`);
    expect(await approved.done).toMatchObject({ ok: true, result: { refunded: 'order-1001' }, ran: ['order-1001'] });

    // 2. Hostile arguments render inert and readable; then deny with a reason.
    const hostile = await guard.call(
      { orderId: '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">', amount: 9_999, note: `\u202Eexe.fdp\u2066 ${'W'.repeat(3000)}` },
      20_000,
    );
    await tab.reload();
    const second = card(tab, '9999');
    const args = await second.locator('table.args').innerText();
    expect(args).toContain('<script>window.__pwned=1</script>');
    expect(args).toContain('⟨U+202E⟩exe.fdp⟨U+2066⟩');
    expect(await tab.evaluate(() => window.__pwned)).toBeUndefined();
    expect(await second.locator('table.args script, table.args img').count()).toBe(0);
    expect(await tab.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    await tab.screenshot({ path: join(ARTIFACTS, 'approvals-inbox-hostile.png'), fullPage: true });
    await second.locator('input[name=reason]').fill('amount above the refund limit');
    await second.locator('button.deny').click();
    await tab.waitForURL(`${rig.inboxUrl}/inbox?done=denied`);
    expect(await hostile.done).toMatchObject({ ok: false, code: 'approval_denied', reason: 'the approver refused: amount above the refund limit', ran: ['order-1001'] });

    // 3. Nobody answers in time: approval_timeout, and the page shows it expired.
    const lapsing = await guard.call({ orderId: 'order-3003', amount: 5 }, 4000);
    await tab.reload();
    const third = card(tab, 'order-3003');
    await tab.screenshot({ path: join(ARTIFACTS, 'approvals-inbox-pending.png'), fullPage: true });
    // A page on another site posts an approval, even holding a token lifted from the inbox: refused, nothing recorded.
    const token = (await third.locator('input[name=csrf]').getAttribute('value'))!;
    const thirdId = lapsing.id;
    expect(await third.getAttribute('data-id')).toBe(thirdId);
    const attacker = await serveAttacker(`${rig.inboxUrl}/inbox/${thirdId}/decision`, token);
    try {
      const refused = tab.waitForResponse((r) => r.url().endsWith(`/inbox/${thirdId}/decision`));
      await tab.goto(attacker.url);
      const res = await refused;
      expect(res.status()).toBe(403);
      expect(await tab.locator('.message').innerText()).toContain('cross-site request refused');
      expect((await store.get(thirdId))?.decision).toBeUndefined();
    } finally {
      await attacker.stop();
    }
    await tab.goto(`${rig.inboxUrl}/inbox`);
    await expect.poll(() => third.locator('.countdown').innerText(), { timeout: 5000 }).toBe('expired');
    expect(await third.locator('button.approve').isDisabled()).toBe(true);
    expect(await lapsing.done).toMatchObject({ ok: false, code: 'approval_timeout', ran: ['order-1001'] });
    await tab.reload();
    expect(await tab.locator('article.request').count()).toBe(0);
    expect(violations).toEqual([]);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    guard.stop();
    await Promise.all([rig.stop(), service.close()]);
  }
});
