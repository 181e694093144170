/**
 * Claims the documentation makes that no other test pins: each case names the page and the
 * sentence it proves, and pins exactly one outcome.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, generateSigningKey, ToolDeniedError, type JWKS, guardTool } from '../../src/index.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

async function refusal(p: Promise<unknown>): Promise<ToolDeniedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolDeniedError);
  return err as ToolDeniedError;
}

describe('docs/concepts.md: values that are not plain JSON after parsing are arguments_invalid', () => {
  async function toolWith(input: z.ZodType) {
    const clock = manualClock();
    const authority = await createAuthority({ issuer: ISSUER, clock });
    const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, clock });
    let runs = 0;
    const tool = guardTool(guard, { name: 'calendar.book', description: 'Book', input, risk: 'read' }, () => {
      runs++;
      return 'booked';
    });
    const capability = await authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { 'calendar.book': {} } });
    return { call: (args: unknown) => tool(args as never, { capability }), runs: () => runs };
  }

  test('z.date(): arguments_invalid naming the path, the tool never runs', async () => {
    const t = await toolWith(z.object({ at: z.date() }));
    const err = await refusal(t.call({ at: new Date(0) }));
    expect(err.code).toBe('arguments_invalid');
    expect(err.reason).toContain('at: a Date is not plain JSON data');
    expect(t.runs()).toBe(0);
  });

  test('a transform returning a Map: arguments_invalid naming the path, the tool never runs', async () => {
    const t = await toolWith(z.object({ tags: z.array(z.string()).transform((a) => new Map(a.map((x) => [x, true]))) }));
    const err = await refusal(t.call({ tags: ['a'] }));
    expect(err.code).toBe('arguments_invalid');
    expect(err.reason).toContain('tags: a Map is not plain JSON data');
    expect(t.runs()).toBe(0);
  });
});

describe('docs/concepts.md: a URL key set is fetched again for an unknown kid at most once every 30 seconds', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  test('a kid published after the last fetch is refused within 30 s of it, accepted after', async () => {
    const clock = manualClock();
    const k1 = await generateSigningKey();
    const k2 = await generateSigningKey();
    let served: JWKS = { keys: [k1.publicJwk] };
    let fetches = 0;
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(served));
    });
    const port = await new Promise<number>((resolve) => server!.listen(0, '127.0.0.1', () => resolve((server!.address() as { port: number }).port)));
    const authority = await createAuthority({ issuer: ISSUER, signingKey: k1, clock });
    const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: new URL(`http://127.0.0.1:${port}/jwks.json`) }, clock });
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({}), risk: 'read' }, () => 'ok');
    const grant = () => authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.read': {} }, ttl: '1h' });

    await expect(read({}, { capability: await grant() })).resolves.toBe('ok');
    expect(fetches).toBe(1);

    await authority.rotate(k2);
    served = { keys: [k1.publicJwk, k2.publicJwk] };
    const fresh = await grant();
    clock.advance(29_000);
    expect((await refusal(read({}, { capability: fresh }))).code).toBe('capability_invalid');
    expect(fetches).toBe(1);

    clock.advance(1_000);
    await expect(read({}, { capability: fresh })).resolves.toBe('ok');
    expect(fetches).toBe(2);
  });
});
