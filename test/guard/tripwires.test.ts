/**
 * Tripwires on one guard with the memory store: each tripwire trips on exactly what it names,
 * stops the agent (or the intent) in the store so the next call is refused `capability_revoked`,
 * and only a person's lift undoes exactly the stop it wrote.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, createTripwires, guardTool, liftQuarantine, listQuarantines, ToolDeniedError, type TripEvent } from '../../src/index.js';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { verifyWebhookSignature } from '../../src/server/approvals/webhooks.js';
import type { MemoryStore } from '../../src/store/memory.js';
import { AGENT, AUDIENCE, ISSUER, manualClock, setup } from '../support/fixtures.js';
import { createSpanCapture } from '../support/otel.js';
import { createTestTrustDomain } from '../identity/trust-domain.js';

const ARGS = { ticketId: '4711' };
const otel = createSpanCapture();
afterAll(() => otel.shutdown());

const code = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'allowed',
    (e: unknown) => (e instanceof ToolDeniedError ? e.code : `unexpected ${String(e)}`),
  );

type Setup = Awaited<ReturnType<typeof setup>>;

/** The fixture's guard with tripwires, a canary tool and the trips its hook was told of. */
async function withTripwires(tripwires: Parameters<typeof createGuard>[0]['tripwires'], extra: Partial<Parameters<typeof createGuard>[0]> = {}) {
  const trips: TripEvent[] = [];
  const store = createMemoryStore();
  const s: Setup = await setup({ store, tripwires: { onTrip: (t) => void trips.push(t), ...tripwires }, telemetry: { tracer: otel.tracer }, ...extra });
  const exportRan: string[] = [];
  const exportAll = guardTool(
    s.guard,
    { name: 'admin.export_all', description: 'Export every customer record', input: z.object({}), risk: 'read' },
    async () => {
      exportRan.push('ran');
      return {};
    },
  );
  return { ...s, store: store as MemoryStore, trips, exportAll, exportRan };
}

beforeEach(() => otel.reset());

describe('canary tools', () => {
  test('a call to a canary tool no grant covers is refused capability_revoked, and so is the next call of that agent', async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'] });
    const cap = await s.grant();
    expect(await code(s.exportAll({}, { capability: cap }))).toBe('capability_revoked');
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
    expect(s.ran).toEqual([]);
    expect(s.trips.map((t) => [t.tripwire, t.stop, t.agent, t.tool])).toEqual([['canary', 'store', AGENT, 'admin.export_all']]);
  });

  test('a canary tool a grant covers by mistake still trips: the call is refused capability_revoked and its body never runs', async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'] });
    const cap = await s.grant({ tools: { 'tickets.read': {}, 'admin.export_all': {} } });
    expect(await code(s.exportAll({}, { capability: cap }))).toBe('capability_revoked');
    expect(s.exportRan).toEqual([]);
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
  });

  test('another agent is not stopped by one agent tripping', async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'] });
    await code(s.exportAll({}, { capability: await s.grant() }));
    const other = await s.grant({ agent: 'spiffe://example.org/agents/billing' });
    expect(await code(s.readTicket(ARGS, { capability: other }))).toBe('allowed');
  });

  test('a trip is a span event on the call that tripped and a point of the tessera.tripwire.trips metric', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const s = await withTripwires({ canaryTools: ['admin.export_all'] }, { telemetry: { tracer: otel.tracer, meter: provider.getMeter('t') } });
    await code(s.exportAll({}, { capability: await s.grant() }));
    const span = (await otel.spans()).find((sp) => sp.name === 'execute_tool admin.export_all')!;
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([['tessera.tripwire.tripped', { 'tessera.tripwire.kind': 'canary', 'tessera.tripwire.stop': 'store' }]]);
    await reader.forceFlush();
    const points = exporter
      .getMetrics()
      .flatMap((m) => m.scopeMetrics.flatMap((sm) => sm.metrics))
      .filter((m) => m.descriptor.name === 'tessera.tripwire.trips')
      .flatMap((m) => m.dataPoints.map((p) => [p.value, p.attributes]));
    expect(points).toEqual([[1, { 'tessera.tripwire.kind': 'canary', 'tessera.tripwire.stop': 'store' }]]);
    await provider.shutdown();
  });
});

describe('denial bursts', () => {
  test('threshold denials within the window trip; the denials before it do not stop the agent', async () => {
    const s = await withTripwires({ denialBurst: { threshold: 3, window: '1m' } });
    const cap = await s.grant();
    expect(await code(s.readTicket({ ticketId: '1' }, { capability: cap }))).toBe('arguments_out_of_scope');
    expect(await code(s.readTicket({ ticketId: '2' }, { capability: cap }))).toBe('arguments_out_of_scope');
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
    expect(await code(s.readTicket({ ticketId: '3' }, { capability: cap }))).toBe('arguments_out_of_scope');
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
    expect(s.trips.map((t) => t.tripwire)).toEqual(['denial_burst']);
    expect(s.trips[0]!.reason).toBe('3 denials within 60 s (the last: arguments_out_of_scope for "tickets.read")');
  });

  test('denials further apart than the window never trip', async () => {
    const s = await withTripwires({ denialBurst: { threshold: 3, window: '1m' } });
    const cap = await s.grant({ ttl: '1h' });
    for (let i = 0; i < 10; i++) {
      expect(await code(s.readTicket({ ticketId: String(i) }, { capability: cap }))).toBe('arguments_out_of_scope');
      s.clock.advance(31_000);
    }
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
    expect(s.trips).toEqual([]);
  });

  test('with codes, only those denials count', async () => {
    const s = await withTripwires({ denialBurst: { threshold: 2, codes: ['tool_not_granted'] } });
    const cap = await s.grant();
    for (let i = 0; i < 5; i++) expect(await code(s.readTicket({ ticketId: String(i) }, { capability: cap }))).toBe('arguments_out_of_scope');
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
    await code(s.exportAll({}, { capability: cap }));
    await code(s.exportAll({}, { capability: cap }));
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
  });

  test('denials of a token that does not verify are counted for no one: a forged token naming an agent cannot quarantine it', async () => {
    const s = await withTripwires({ denialBurst: { threshold: 2 }, foreignAudience: true });
    const forger = await createAuthority({ issuer: ISSUER, clock: s.clock });
    const forged = await forger.grant({ agent: AGENT, audience: 'other-app', intent: { id: 'x', purpose: 'x' }, tools: { 'tickets.read': {} }, ttl: '5m' });
    const forgedHere = await forger.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'x', purpose: 'x' }, tools: { 'tickets.read': {} }, ttl: '5m' });
    for (let i = 0; i < 5; i++) {
      expect(await code(s.readTicket(ARGS, { capability: forged }))).toBe('capability_invalid');
      expect(await code(s.readTicket(ARGS, { capability: forgedHere }))).toBe('capability_invalid');
    }
    expect(await code(s.readTicket(ARGS, { capability: await s.grant() }))).toBe('allowed');
    expect(s.trips).toEqual([]);
  });
});

describe('wrong audience, wrong identity', () => {
  test('a capability of a trusted issuer for another audience trips foreignAudience: the agent is stopped here', async () => {
    const s = await withTripwires({ foreignAudience: true });
    const foreign = await s.grant({ audience: 'billing-app' });
    expect(await code(s.readTicket(ARGS, { capability: foreign }))).toBe('capability_invalid');
    expect(await code(s.readTicket(ARGS, { capability: await s.grant() }))).toBe('capability_revoked');
    expect(s.trips.map((t) => [t.tripwire, t.agent])).toEqual([['foreign_audience', AGENT]]);
  });

  test('without foreignAudience the same call stops no one', async () => {
    const s = await withTripwires({ denialBurst: { threshold: 2 } });
    const foreign = await s.grant({ audience: 'billing-app' });
    for (let i = 0; i < 3; i++) expect(await code(s.readTicket(ARGS, { capability: foreign }))).toBe('capability_invalid');
    expect(await code(s.readTicket(ARGS, { capability: await s.grant() }))).toBe('allowed');
  });

  test('a capability presented by another workload identity trips identityMismatch', async () => {
    let now: () => number = () => 0;
    const td = await createTestTrustDomain('example.org', { clock: () => now(), audience: AUDIENCE });
    const s = await withTripwires(
      { identityMismatch: true },
      { identity: createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock: () => now() }), requireIdentity: true },
    );
    now = s.clock;
    const key = await createAgentKey('EdDSA', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jkt: key.jkt } });
    const thief = await td.svid('spiffe://example.org/agents/billing');
    expect(await code(s.readTicket(ARGS, { capability: { capability: cap, identity: thief, prover: key } }))).toBe('identity_mismatch');
    const owner = await td.svid(AGENT);
    expect(await code(s.readTicket(ARGS, { capability: { capability: cap, identity: owner, prover: key } }))).toBe('capability_revoked');
    expect(s.trips.map((t) => [t.tripwire, t.agent])).toEqual([['identity_mismatch', AGENT]]);
  });
});

describe('call rate', () => {
  test("a burst far above the agent's recent rate trips; the same calls spread out do not", async () => {
    const s = await withTripwires({ callRate: { factor: 10, minPerMinute: 120, window: '10s', baseline: '10m' } });
    const cap = await s.grant({ ttl: '1h', tools: { 'tickets.read': {} } });
    // Ten minutes at one call every 5 s: the baseline.
    for (let i = 0; i < 120; i++) {
      expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
      s.clock.advance(5000);
    }
    expect(s.trips).toEqual([]);
    // Then 40 calls in 2 s.
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      outcomes.push(await code(s.readTicket(ARGS, { capability: cap })));
      s.clock.advance(50);
    }
    const first = outcomes.indexOf('capability_revoked');
    expect(first).toBeGreaterThan(0);
    expect(outcomes.slice(0, first).every((o) => o === 'allowed')).toBe(true);
    expect(outcomes.slice(first).every((o) => o === 'capability_revoked')).toBe(true);
    expect(s.trips.map((t) => t.tripwire)).toEqual(['call_rate']);
  });
});

describe('what a trip stops, and lifting it', () => {
  test("stop: 'intent' stops the intent of the call that tripped; the agent's other intents go on", async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'], stop: 'intent' });
    const cap = await s.grant();
    const other = await s.grant({ intent: { id: 'ticket-9', purpose: 'Another ticket' } });
    await code(s.exportAll({}, { capability: cap }));
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
    expect(await code(s.readTicket(ARGS, { capability: other }))).toBe('allowed');
    expect((await listQuarantines(s.store, s.clock()))[0]).toMatchObject({ scope: 'intent', intent: 'ticket-4711', stopKey: 'intent:ticket-4711' });
  });

  test('the record says who tripped it, why and when; lifting it needs who and why, and restores the capabilities issued before the trip', async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'] });
    const cap = await s.grant();
    const t0 = s.clock();
    await code(s.exportAll({}, { capability: cap }));
    const [record] = await listQuarantines(s.store, s.clock());
    expect(record).toMatchObject({ agent: AGENT, tripwire: 'canary', by: AUDIENCE, atMs: t0, trips: 1, stopKey: `agent:${AGENT}`, previousStopMs: 0 });
    await expect(liftQuarantine(s.store, AGENT, { by: '', reason: 'x', atMs: s.clock() })).rejects.toThrow(TypeError);
    await expect(liftQuarantine(s.store, AGENT, { by: 'ann@example.com', reason: ' ', atMs: s.clock() })).rejects.toThrow(TypeError);
    const lifted = await liftQuarantine(s.store, AGENT, { by: 'ann@example.com', reason: 'canary registered by mistake', atMs: s.clock() });
    expect(lifted?.lifted).toEqual({ by: 'ann@example.com', reason: 'canary registered by mistake', atMs: s.clock(), stop: 'lifted' });
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
    expect(await listQuarantines(s.store, s.clock())).toEqual([]);
    expect((await listQuarantines(s.store, s.clock(), { includeLifted: true })).map((r) => r.lifted?.by)).toEqual(['ann@example.com']);
    expect(await liftQuarantine(s.store, AGENT, { by: 'ann@example.com', reason: 'again', atMs: s.clock() })).toBeUndefined();
  });

  test('a stop pressed by a person after the trip stays when the quarantine is lifted', async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'] });
    const cap = await s.grant();
    await code(s.exportAll({}, { capability: cap }));
    s.clock.advance(60_000);
    await s.guard.revokeAgent(AGENT);
    const lifted = await liftQuarantine(s.store, AGENT, { by: 'ann@example.com', reason: 'false alarm', atMs: s.clock() });
    expect(lifted?.lifted?.stop).toBe('kept');
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
  });

  test('a stop pressed before the trip is restored, not removed, when the quarantine is lifted', async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'] });
    const old = await s.grant();
    await s.guard.revokeAgent(AGENT);
    s.clock.advance(60_000);
    const cap = await s.grant();
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
    await code(s.exportAll({}, { capability: cap }));
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
    const lifted = await liftQuarantine(s.store, AGENT, { by: 'ann@example.com', reason: 'reviewed', atMs: s.clock() });
    expect(lifted?.lifted?.stop).toBe('lifted');
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
    expect(await code(s.readTicket(ARGS, { capability: old }))).toBe('capability_revoked');
  });

  test('a second trip of a quarantined agent updates its record; one lift removes both stops', async () => {
    const s = await withTripwires({ canaryTools: ['admin.export_all'] });
    const cap = await s.grant();
    await code(s.exportAll({}, { capability: cap }));
    s.clock.advance(10_000);
    const later = await s.grant();
    await code(s.exportAll({}, { capability: later }));
    const [record] = await listQuarantines(s.store, s.clock());
    expect(record?.trips).toBe(2);
    await liftQuarantine(s.store, AGENT, { by: 'ann@example.com', reason: 'reviewed', atMs: s.clock() });
    expect(await code(s.readTicket(ARGS, { capability: later }))).toBe('allowed');
  });
});

describe('hooks and options', () => {
  test('the signed webhook of the approvals service is told of each trip', async () => {
    const secret = 'a'.repeat(40);
    const received: { body: string; signature: string | undefined }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ body, signature: req.headers['x-tessera-signature'] as string | undefined });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const s = await withTripwires({ canaryTools: ['admin.export_all'], webhook: { url, secret } });
      const cap = await s.grant();
      await code(s.exportAll({}, { capability: cap }));
      await expect.poll(() => received.length, { timeout: 5000 }).toBe(1);
      const [hit] = received;
      expect(verifyWebhookSignature(secret, hit!.signature, hit!.body, { now: s.clock() })).toBe(true);
      expect(JSON.parse(hit!.body)).toMatchObject({ type: 'tessera.tripwire.tripped', agent: AGENT, tripwire: 'canary', stop: 'store', tool: 'admin.export_all' });
      expect(hit!.body).not.toContain(cap);
    } finally {
      server.close();
    }
  });

  test('an onTrip hook that throws or never settles changes nothing', async () => {
    for (const onTrip of [() => { throw new Error('boom'); }, () => new Promise<void>(() => undefined)]) {
      const s = await setup({ store: createMemoryStore(), tripwires: { denialBurst: { threshold: 2 }, onTrip } });
      const cap = await s.grant();
      expect(await code(s.readTicket({ ticketId: '1' }, { capability: cap }))).toBe('arguments_out_of_scope');
      expect(await code(s.readTicket({ ticketId: '1' }, { capability: cap }))).toBe('arguments_out_of_scope');
      expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('capability_revoked');
    }
  });

  test('options are checked at construction, naming the option', async () => {
    const clock = manualClock();
    const authority = await createAuthority({ issuer: ISSUER, clock });
    const make = (tripwires: unknown, store: unknown = createMemoryStore()) => () =>
      createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, store: store as MemoryStore, tripwires: tripwires as never });
    expect(make({ denialBurst: { threshold: 1 } })).toThrow(/tripwires\.denialBurst\.threshold/);
    expect(make({ denialBurst: { threshold: 3, codes: ['capability_revoked'] } })).toThrow(/tripwires\.denialBurst\.codes/);
    expect(make({ canary: ['x'] })).toThrow(/canary/);
    expect(make({ webhook: { url: 'http://hooks.example.com/x', secret: 'a'.repeat(40) } })).toThrow(/tripwires\.webhook\.url/);
    expect(make({ webhook: { url: 'https://hooks.example.com/x', secret: 'short' } })).toThrow(/tripwires\.webhook\.secret/);
    expect(make({ callRate: { window: '1m', baseline: '2m' } })).toThrow(RangeError);
    const bare = createMemoryStore();
    const { tripwires: _dropped, ...noTripwireState } = bare;
    expect(make({ canaryTools: ['x'] }, { ...noTripwireState, reserve: bare.reserve })).toThrow(/store that keeps tripwire state/);
  });

  test('the engine can be driven without a guard, as another enforcement point would', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ clock });
    const engine = createTripwires({ denialBurst: { threshold: 2 } }, { store, clock, name: 'gateway', aheadMs: 0, keepMs: 60_000, storeTimeoutMs: 1000 });
    await engine.observe({ outcome: 'deny', code: 'tool_not_granted', agent: AGENT, intent: 'i', tool: 't' });
    await engine.observe({ outcome: 'deny', code: 'tool_not_granted', agent: AGENT, intent: 'i', tool: 't' });
    expect((await engine.quarantines()).map((r) => [r.agent, r.by, r.tripwire])).toEqual([[AGENT, 'gateway', 'denial_burst']]);
    expect(store.peek({ revocations: [{ key: `agent:${AGENT}`, issuedAtMs: clock() }], counters: [], once: [], credentials: [] })).toMatchObject({ ok: false, reason: 'revoked' });
  });
});
