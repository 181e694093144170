import { expect, test } from 'vitest';
import { runDemo } from '../../examples/demo-run.js';

test('the demo shows allowed calls, each kind of denial with its code, and the spans', async () => {
  const lines: string[] = [];
  const { rows, spans } = await runDemo((l) => lines.push(l));
  expect(rows.map((r) => [r.step, r.outcome, r.code])).toEqual([
    ['read the ticket', 'allowed', ''],
    ['reply to the customer', 'allowed', ''],
    ['read another ticket', 'denied', 'arguments_out_of_scope'],
    ['delete the ticket', 'denied', 'tool_not_granted'],
    ['email an outsider', 'denied', 'arguments_out_of_scope'],
    ['email again', 'denied', 'call_limit_exceeded'],
    ['replay the credential', 'denied', 'replay_detected'],
  ]);
  expect(spans).toBe(6);
  expect(lines.join('\n')).toContain('execute_tool email.send');
});

test('the README quickstart runs: one allowed call, one denied', async () => {
  const { quickstart } = await import('../../examples/quickstart.js');
  await expect(quickstart()).resolves.toEqual({ sent: { queued: 'dana@example.com' }, denied: 'arguments_out_of_scope' });
});
