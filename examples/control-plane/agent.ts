/**
 * Process 3 of 3: the agent. It holds its OIDC access token and a key it generates itself, and
 * nothing of the authority: it imports only the client, its key and the proof helper.
 */
import { randomUUID } from 'node:crypto';
import { AuthorityRequestError, requestCapability } from '../../src/client/authority-client.js';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createProofBinding } from '../../src/identity/proof-binding.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new TypeError(`${name} is required`);
  return v;
};
const authority = env('AUTHORITY_URL');
const toolsUrl = env('TOOLS_URL');
const audience = env('GUARD_AUDIENCE');
const intent = { id: 'ticket-4711', purpose: 'Answer ticket 4711' };

type Message = { type: 'start'; identityToken: string } | { type: 'stopped' };
const next = (type: Message['type']): Promise<Message> =>
  new Promise((resolve) => {
    const on = (m: Message): void => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve(m);
    };
    process.on('message', on);
  });
const report = (event: Record<string, unknown>): void => {
  process.send?.({ type: 'event', ...event });
};

const { identityToken } = (await next('start')) as Extract<Message, { type: 'start' }>;
const key = await createAgentKey();

const ask = async (step: string, tools: Parameters<typeof requestCapability>[0]['tools']) => {
  try {
    const handle = await requestCapability({ authority, identityToken, identityTokenType: 'access_token', key, audience, intent, tools, ttl: '10m' });
    report({ step, outcome: 'granted', tokenType: handle.tokenType });
    return handle.capability;
  } catch (err) {
    if (!(err instanceof AuthorityRequestError)) throw err;
    report({ step, outcome: 'refused', code: err.code, description: err.description });
    return undefined;
  }
};

const call = async (step: string, capability: string, tool: string, args: Record<string, unknown>) => {
  const callId = randomUUID();
  const proof = key.prove(createProofBinding({ capability, tool, callId, args, audience }));
  const res = await fetch(`${toolsUrl}/call`, { method: 'POST', body: JSON.stringify({ tool, args, callId, capability, proof }) });
  const answer = (await res.json()) as { allowed?: boolean; code?: string; reason?: string };
  report({ step, outcome: answer.allowed === true ? 'allowed' : 'denied', ...(answer.code !== undefined ? { code: answer.code } : {}) });
};

const capability = await ask('request tickets.read and email.send', { 'tickets.read': { maxCalls: 5 }, 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } });
if (capability !== undefined) {
  await call('read ticket T-4711', capability, 'tickets.read', { id: 'T-4711' });
  await call('email customer@example.com', capability, 'email.send', { to: 'customer@example.com' });
  await call('email eve@evil.example', capability, 'email.send', { to: 'eve@evil.example' });
  await ask('request payments.refund (outside the ceiling)', { 'payments.refund': {} });
  report({ step: 'waiting for the emergency stop', outcome: 'waiting' });
  process.send?.({ type: 'await-stop' });
  await next('stopped');
  await call('read ticket T-4711 after the stop', capability, 'tickets.read', { id: 'T-4711' });
  await ask('request a fresh capability after the stop', { 'tickets.read': { maxCalls: 1 } });
}
process.send?.({ type: 'done' });
