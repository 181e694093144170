import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

test('examples/two-agents.ts: each agent uses its own capability and neither can use the other', async () => {
  const { stdout } = await promisify(execFile)('node_modules/.bin/tsx', ['examples/two-agents.ts'], { timeout: 60_000 });
  const outcomes = stdout
    .split('\n')
    .filter((l) => /^\s+(allowed|denied)/.test(l))
    .map((l) => l.trim().replace(/^(allowed|denied)\s+([^:]+):\s*(\w+)?.*$/, (_m, d: string, label: string, code: string) => `${d} ${label}${d === 'denied' ? ` ${code}` : ''}`));
  expect(outcomes).toEqual([
    'allowed support uses its capability',
    'allowed billing uses its capability',
    'denied as itself identity_mismatch',
    "denied with support's stolen SVID, but its own key proof_invalid",
    "denied with support's stolen SVID and no key at all proof_invalid",
  ]);
}, 70_000);
