/**
 * Names and passwords drawn from the shared random pool: each draw is fresh across pool refills,
 * and the pool keeps no issued password.
 */
import { describe, expect, test } from 'vitest';
import { randomNameAndPassword } from '../../src/credentials/jit.js';

describe('randomNameAndPassword', () => {
  test('200 draws (past three pool refills) give 200 distinct names and passwords of the promised shape', () => {
    const draws = Array.from({ length: 200 }, () => randomNameAndPassword('p_'));
    for (const { name, password } of draws) {
      expect(name).toMatch(/^p_[a-z2-7]{26}$/);
      expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(new Set(draws.map((d) => d.name)).size).toBe(200);
    expect(new Set(draws.map((d) => d.password)).size).toBe(200);
    // No all-zero draw: a byte zeroed after use is never handed out again.
    expect(draws.filter((d) => d.password === 'A'.repeat(43))).toEqual([]);
  });
});
