import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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
  expect(lines.join('\n')).not.toContain('demo.warm-up');
  expect(lines.at(-1)).toContain('overhead µs: the time the guard added to a call');
});

test('the quickstart runs: one call approved and sent, one out of scope, one refused by the approver', { timeout: 60_000 }, async () => {
  const { stdout, stderr } = await promisify(execFile)('node_modules/.bin/tsx', ['examples/quickstart.ts'], { timeout: 60_000 });
  expect(stderr).toBe('');
  expect(stdout).toBe(
    [
      'email.send to dana@example.com',
      '  approval: approved by oncall@example.com',
      '  allowed: {"queued":"dana@example.com"}',
      'email.send to eve@evil.example',
      '  denied: arguments_out_of_scope (to must be a string ending with "@example.com" (got a string of 16 characters that does not) (intent "ticket-4711"))',
      'email.send to ops@example.com',
      '  approval: refused by oncall@example.com',
      '  denied: approval_denied (the approver refused: denied by the approval script)',
      '',
    ].join('\n'),
  );
});
