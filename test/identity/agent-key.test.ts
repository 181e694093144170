import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify } from 'jose';
import { describe, expect, test } from 'vitest';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { manualClock } from '../support/fixtures.js';

const binding = { tool: 'tickets.read', callId: 'call-1', argsHash: 'a'.repeat(43), capabilityHash: 'c'.repeat(43), audience: 'support-app' };

describe('createAgentKey', () => {
  test.each(['EdDSA', 'ES256'] as const)('%s proofs verify with the key whose thumbprint is jkt', async (alg) => {
    const clock = manualClock();
    const key = await createAgentKey(alg, { clock });
    expect(key.jkt).toBe(await calculateJwkThumbprint(key.publicJwk, 'sha256'));
    expect(key.publicJwk).not.toHaveProperty('d');
    const proof = key.prove(binding);
    const header = decodeProtectedHeader(proof);
    expect(header).toEqual({ alg, typ: 'tessera-pop+jwt', jwk: key.publicJwk });
    const { payload } = await jwtVerify(proof, EmbeddedJWK, { algorithms: [alg], currentDate: new Date(clock()) });
    expect(payload).toMatchObject({
      tool: 'tickets.read',
      call_id: 'call-1',
      args_sha256: binding.argsHash,
      cap_sha256: binding.capabilityHash,
      aud: 'support-app',
      iat: Math.floor(clock() / 1000),
    });
    expect(Buffer.from(String(payload.jti), 'base64url').length).toBeGreaterThanOrEqual(12);
  });

  test('every proof has a fresh jti', async () => {
    const key = await createAgentKey();
    const jtis = new Set(Array.from({ length: 50 }, () => JSON.parse(Buffer.from(key.prove(binding).split('.')[1]!, 'base64url').toString()).jti));
    expect(jtis.size).toBe(50);
  });

  test('refuses an unsupported algorithm', async () => {
    await expect(createAgentKey('HS256' as never)).rejects.toThrow(TypeError);
  });
});
