/**
 * How tests read a guarded call's result, built on the testing kit's `settleCall` (the same one
 * `toBeDenied` uses), so that every test recognises a denial the way users' suites do.
 */
import { expect } from 'vitest';
import { isToolDeniedError, type ToolDeniedError } from '../../src/errors.js';
import { settleCall } from '../../src/testing/matchers.js';

/** `'allowed'`, or the denial's code; an error the tool itself threw is rethrown. */
export async function outcome(call: unknown): Promise<string> {
  const o = await settleCall(call);
  if (o.kind === 'failed') throw o.error;
  return o.kind === 'allowed' ? 'allowed' : o.code;
}

/** The denial the call ended with; the test fails if the call was not denied. */
export async function denial(call: Promise<unknown>): Promise<ToolDeniedError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isToolDeniedError(err), 'the call was not denied').toBe(true);
  return err as ToolDeniedError;
}
