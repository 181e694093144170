/**
 * The compact-JWS shape every token kind is checked against before any parsing: three canonical
 * base64url segments, one string per token.
 */
import { describe, expect, test } from 'vitest';
import { COMPACT_JWS, compactJwsProblem, isCompactJws } from '../../src/jose/compact-jws.js';

describe('the canonical rule', () => {
  test('a segment whose last character has unused bits set is refused, with the reason', () => {
    expect(compactJwsProblem('eyJhIjoxfQ.eyJhIjoxfR.AAAB')).toMatch(/payload segment is not canonical base64url/);
    expect(compactJwsProblem('eyJhIjoxfQ.eyJhIjoxfQ.AA==')).toMatch(/signature segment carries base64 padding/);
    expect(compactJwsProblem('eyJhIjoxfQ.eyJhIjoxfQ.A+/A')).toMatch(/outside base64url/);
    expect(compactJwsProblem('eyJhIjoxfQ.eyJhIjoxfQ.AAAAA')).toMatch(/length no base64url encoding produces/);
    expect(compactJwsProblem('eyJhIjoxfQ.eyJhIjoxfQ.AAAA')).toBeUndefined();
  });
});

describe('the shape', () => {
  test('three segments, each non-empty, or the reason names what is wrong', () => {
    expect(compactJwsProblem('eyJhIjoxfQ.eyJhIjoxfQ')).toBe('it has 2 dot-separated segments, a compact JWS has 3');
    expect(compactJwsProblem('eyJhIjoxfQ..AAAA')).toBe('its payload segment is empty');
    expect(compactJwsProblem(42)).toBe('it is not a string');
  });

  test('the capture groups are the header, payload and signature', () => {
    const m = COMPACT_JWS.exec('eyJhIjoxfQ.eyJiIjoyfQ.AAAA');
    expect(m?.slice(1)).toEqual(['eyJhIjoxfQ', 'eyJiIjoyfQ', 'AAAA']);
    expect(isCompactJws('eyJhIjoxfQ.eyJiIjoyfQ.AAAA')).toBe(true);
    expect(isCompactJws('eyJhIjoxfQ.eyJiIjoyfQ.AAAB=')).toBe(false);
  });
});
