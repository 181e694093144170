import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createCedarEngine } from '../../src/policy/cedar.js';
import { toCedarDecimal, toCedarLong } from '../../src/policy/cedar-schema.js';
import { setup } from '../support/fixtures.js';
import { guardTool } from '../../src/index.js';

// A number Cedar cannot hold exactly is a policy error (deny), never a rounded value that slips
// under a limit. Each attack pins one outcome and checks the tool never ran.

const refundTool = {
  name: 'refunds.issue',
  description: 'Refund',
  input: z.object({ amount: z.number(), count: z.number().int().optional(), amounts: z.array(z.number()).optional() }),
  risk: 'write' as const,
};
const POLICIES = `@id("permit-all")
permit (principal, action, resource);
@id("refund-limit")
forbid (principal, action == Action::"refunds.issue", resource) when { context.args.amount.greaterThan(decimal("100.0")) };
@id("count-limit")
forbid (principal, action == Action::"refunds.issue", resource) when { context.args has count && context.args.count > 5 };
`;

async function world() {
  const s = await setup({ policy: createCedarEngine({ policies: POLICIES, tools: [refundTool] }) });
  const refund = guardTool(s.guard, refundTool, (a) => {
    s.ran.push(`refund:${a.amount}`);
    return 'refunded';
  });
  const cap = await s.grant({ tools: { 'refunds.issue': {} } });
  const call = async (args: z.input<typeof refundTool.input>) =>
    refund(args, { capability: cap }).then(
      () => 'allowed',
      (e: { code: string }) => e.code,
    );
  return { ...s, call };
}

describe('Cedar decimal arguments are exact or refused', () => {
  test('100.00004 against a forbid above 100.0 is a policy error, not a rounded 100.0', async () => {
    const { call, ran } = await world();
    expect(await call({ amount: 100.00004 })).toBe('policy_error');
    expect(ran).toEqual([]);
  });

  test.each([
    ['five fractional digits', 99.99999],
    ['a tiny value in exponent form', 1e-7],
    ['a value beyond the decimal range', 1e16],
    ['a large exponent', 1e21],
    ['a negative value beyond the range', -922337203685478],
  ])('%s is a policy error', async (_, amount) => {
    const { call, ran } = await world();
    expect(await call({ amount })).toBe('policy_error');
    expect(ran).toEqual([]);
  });

  test('a number in a list of decimals that does not fit is a policy error', async () => {
    const { call, ran } = await world();
    expect(await call({ amount: 1, amounts: [1.5, 2.00001] })).toBe('policy_error');
    expect(ran).toEqual([]);
  });

  test('exact values are compared exactly: 100.0001 is over the limit, 100.0 is not', async () => {
    const { call, ran } = await world();
    expect(await call({ amount: 100.0001 })).toBe('policy_denied');
    expect(await call({ amount: 100 })).toBe('allowed');
    expect(ran).toEqual(['refund:100']);
  });

  test('four fractional digits and the range edge convert exactly', () => {
    expect(toCedarDecimal(0.1)).toBe('0.1');
    expect(toCedarDecimal(100.0001)).toBe('100.0001');
    expect(toCedarDecimal(-5)).toBe('-5.0');
    expect(toCedarDecimal(-0)).toBe('0.0');
    expect(toCedarDecimal(922337203685477.5)).toBe('922337203685477.5');
    expect(toCedarDecimal(1.23e5)).toBe('123000.0');
  });
});

describe('Cedar Long arguments are safe integers or refused', () => {
  test('an integer argument reaches Cedar exactly: 6 is over a limit of 5', async () => {
    const { call, ran } = await world();
    expect(await call({ amount: 1, count: 6 })).toBe('policy_denied');
    expect(ran).toEqual([]);
  });

  test.each([
    ['a fraction', 1.5],
    ['beyond safe integers', 2 ** 63],
    ['infinity', Infinity],
    ['NaN', NaN],
  ])('%s is refused as a Long', (_, v) => {
    expect(() => toCedarLong(v)).toThrow(RangeError);
  });
});
