/** How a key's shard is chosen from its name alone (src/store/shards.ts). */
import { expect, test } from 'vitest';
import { credentialIdForRoot } from '../../src/guard/reservation.js';
import { shardName, shardOf, shardOfName, shardPrefix } from '../../src/store/shards.js';

test('every key one call reserves is named by its root capability id', () => {
  const root = 'Xq3_aZ-0123456789abcde';
  const child = `${root}.Zk8vQb2yT1c9Hq0xWl4m3A`;
  for (const key of [`cap:${root}`, `cap:${child}`, `calls:${child}:email.send`, `calls:${root}:email.send`, `pop:${child}:proof-jti`]) {
    expect(shardName(key), key).toBe(root);
    expect(shardOf(key), key).toBe(shardOfName(root));
  }
});

test("a call credential's id is 22 base64url characters whose first two are in its root's shard", () => {
  for (let i = 0; i < 2000; i++) {
    const root = `root-${i}`;
    const id = credentialIdForRoot(root);
    expect(id).toMatch(/^[\w-]{21}[AQgw]$/);
    expect(shardName(`cred:${id}`)).toBe(id.slice(0, 2));
    expect(shardOf(`cred:${id}`)).toBe(shardOfName(root));
  }
});

test('an id with a "." names its shard by the text before it, a credential id too', () => {
  expect(shardName('cred:contract123.cred-1')).toBe('contract123');
  expect(shardOfName(shardPrefix('anything'))).toBe(shardOfName('anything'));
});

test('agent and intent revocations are replicated: a single-key operation uses shard 0', () => {
  expect(shardOf('agent:spiffe://example.org/agents/a')).toBe(0);
  expect(shardOf('intent:ticket-4711')).toBe(0);
});
