/**
 * A call its caller aborted is `call_aborted` (not `capability_missing`): checked when the call
 * is resolved, before its credential is minted and before the tool runs. Also: the reason of
 * `tool_not_granted` names the tool and the intent, never the whole grant.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { standardsTags, ToolDeniedError } from '../../src/errors.js';
import type { CredentialProvider } from '../../src/index.js';
import { ATTR } from '../../src/telemetry/attributes.js';
import { createSpanCapture } from '../../src/testing/span-capture.js';
import { AGENT, AUDIENCE, setup } from '../support/fixtures.js';
import { guardTool } from '../../src/index.js';
import { outcome } from '../support/outcomes.js';

const spans = createSpanCapture();
afterAll(() => spans.shutdown());


describe('call_aborted', () => {
  test('aborted before the call: call_aborted, with its own standards tags on the span', async () => {
    const s = await setup({ telemetry: { tracer: spans.tracer } });
    const ac = new AbortController();
    ac.abort();
    const err = (await s.readTicket({ ticketId: '4711' }, { capability: await s.grant(), signal: ac.signal }).catch((e: unknown) => e)) as ToolDeniedError;
    expect(err.code).toBe('call_aborted');
    expect(err.toJSON().standards).toEqual(['L5', 'MANAGE 2.4']);
    expect(standardsTags('call_aborted')).toEqual(['L5', 'MANAGE 2.4']);
    const span = spans.toolSpans('tickets.read').at(-1)!;
    expect(span.attributes[ATTR.DENIAL_CODE]).toBe('call_aborted');
    expect(s.ran).toEqual([]);
  });

  test('aborted while an asynchronous policy decides: call_aborted before minting, no credential is minted', async () => {
    const ac = new AbortController();
    let minted = 0;
    const provider: CredentialProvider = {
      mint: (r) => {
        minted++;
        return { id: r.credentialId, token: 't', expiresAt: 0, type: 'lease' };
      },
      revoke: () => {},
    };
    const s = await setup({
      credentials: { provider },
      policy: {
        name: 'slow',
        evaluate: async () => {
          ac.abort();
          return { effect: 'allow' };
        },
      },
    });
    expect(await outcome(s.readTicket({ ticketId: '4711' }, { capability: await s.grant(), signal: ac.signal }))).toBe('call_aborted');
    expect(minted).toBe(0);
    expect(s.ran).toEqual([]);
  });

  test('aborted while waiting for approval: call_aborted', async () => {
    const ac = new AbortController();
    const s = await setup({
      approver: async () => {
        ac.abort();
        return { approved: true };
      },
    });
    const send = guardTool(s.guard, { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' }, () => {
      s.ran.push('sent');
    });
    expect(await outcome(send({ to: 'a@example.com' }, { capability: await s.grant(), signal: ac.signal }))).toBe('call_aborted');
    expect(s.ran).toEqual([]);
  });

  test('aborted while the credential is minted: call_aborted before the tool runs, and the credential is revoked', async () => {
    const ac = new AbortController();
    const revoked: string[] = [];
    const provider: CredentialProvider = {
      mint: async (r) => {
        ac.abort();
        return { id: r.credentialId, token: 't', expiresAt: 0, type: 'lease' };
      },
      revoke: (c) => {
        revoked.push(c.id);
      },
    };
    const s = await setup({ credentials: { provider } });
    expect(await outcome(s.readTicket({ ticketId: '4711' }, { capability: await s.grant(), signal: ac.signal }))).toBe('call_aborted');
    expect(revoked).toHaveLength(1);
    expect(s.ran).toEqual([]);
  });

  test('the credential provider sees an aborted signal when the caller aborts', async () => {
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    const provider: CredentialProvider = {
      mint: async (r) => {
        seen = r.signal;
        ac.abort();
        return { id: r.credentialId, token: 't', expiresAt: 0, type: 'lease' };
      },
      revoke: () => {},
    };
    const s = await setup({ credentials: { provider } });
    await outcome(s.readTicket({ ticketId: '4711' }, { capability: await s.grant(), signal: ac.signal }));
    expect(seen?.aborted).toBe(true);
  });
});

describe('tool_not_granted', () => {
  test('with hundreds of granted tools the reason names the tool, the intent, a count and at most three tools of its namespace', async () => {
    const s = await setup();
    const tools: Record<string, object> = {};
    for (let i = 0; i < 400; i++) tools[`crm.t${i}`] = {};
    tools['tickets.read'] = {};
    const cap = await s.authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'big', purpose: 'p' }, tools });
    const del = guardTool(s.guard, { name: 'crm.delete', description: 'Delete', input: z.object({}) }, () => {
      s.ran.push('deleted');
    });
    const err = (await del({}, { capability: cap }).catch((e: unknown) => e)) as ToolDeniedError;
    expect(err.code).toBe('tool_not_granted');
    expect(err.reason).toBe('the capability for intent "big" does not grant "crm.delete"; it grants 401 tools, including crm.t0, crm.t1, crm.t2');
    expect(s.ran).toEqual([]);
  });

  test('a tool outside every granted namespace: only the count', async () => {
    const s = await setup();
    const wipe = guardTool(s.guard, { name: 'wipe', description: 'Wipe', input: z.object({}) }, () => {
      s.ran.push('wiped');
    });
    const err = (await wipe({}, { capability: await s.grant() }).catch((e: unknown) => e)) as ToolDeniedError;
    expect(err.reason).toBe('the capability for intent "ticket-4711" does not grant "wipe"; it grants 2 tools');
    expect(s.ran).toEqual([]);
  });
});
