/**
 * What telemetry adds to a guarded call: the same guard and calls with the registered SDK
 * (span, batch processor, both metric instruments) and with a no-op tracer and meter, in the
 * same rounds. The difference is the span and metric cost the guard puts on every call.
 */
import { createNoopMeter, ProxyTracerProvider } from '@opentelemetry/api';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, type GuardOptions } from '../../src/index.js';
import { round, type BenchSuite } from '../harness.js';

const suite: BenchSuite = async (h) => {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const input = z.object({ ticketId: z.string() });
  const impl = async (args: { ticketId: string }) => args.ticketId;
  const tool = (telemetry: GuardOptions['telemetry']) =>
    guardTool(
      createGuard({ audience: 'bench', trust: { issuer: authority.issuer, jwks: authority.jwks() }, ...(telemetry ? { telemetry } : {}) }),
      { name: 'tickets.read', description: 'Read a ticket', input, risk: 'read' },
      impl,
    );
  const withSdk = tool(undefined);
  // A tracer from a provider with no delegate is the API's no-op tracer.
  const silent = tool({ tracer: new ProxyTracerProvider().getTracer('off'), meter: createNoopMeter() });
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/bench',
    audience: 'bench',
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { 'tickets.read': { args: { ticketId: { startsWith: '47' } } } },
  });
  const options = { capability };
  const ok = { ticketId: '4711' };
  const no = { ticketId: '9999' };
  const A_SDK = 'telemetry: allowed call, SDK registered';
  const A_OFF = 'telemetry: allowed call, no-op tracer and meter';
  const D_SDK = 'telemetry: denied call, SDK registered';
  const D_OFF = 'telemetry: denied call, no-op tracer and meter';
  const r = await h.rounds(
    {
      [A_SDK]: () => withSdk(ok, options),
      [A_OFF]: () => silent(ok, options),
      [D_SDK]: () => withSdk(no, options).catch(() => undefined),
      [D_OFF]: () => silent(no, options).catch(() => undefined),
    },
    { iterations: 2000, rounds: 11 },
  );
  const allow = r.ratio(A_SDK, { minus: A_OFF });
  const deny = r.ratio(D_SDK, { minus: D_OFF });
  h.note('telemetry: span + metrics on an allowed call / Ed25519 sign', `${allow.toFixed(3)} (target <= 0.05)`);
  h.note('telemetry: span + metrics on a denied call / Ed25519 sign', `${deny.toFixed(3)} (target <= 0.05)`);
  return {
    telemetry_allow_vs_ed25519_sign: round(allow),
    telemetry_deny_vs_ed25519_sign: round(deny),
    telemetry_allow_us: round(r.us(A_SDK) - r.us(A_OFF)),
    telemetry_deny_us: round(r.us(D_SDK) - r.us(D_OFF)),
  };
};

export default suite;
