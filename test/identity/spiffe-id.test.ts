import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isSpiffeId, parseSpiffeId, parseTrustDomain, SpiffeIdError, type SpiffeIdRule } from '../../src/identity/spiffe-id.js';

function ruleOf(value: string): SpiffeIdRule | 'valid' {
  try {
    parseSpiffeId(value);
    return 'valid';
  } catch (err) {
    expect(err).toBeInstanceOf(SpiffeIdError);
    return (err as SpiffeIdError).rule;
  }
}

describe('parseSpiffeId', () => {
  test('parses valid IDs into trust domain and path', () => {
    expect(parseSpiffeId('spiffe://example.org/agents/support')).toEqual({
      trustDomain: 'example.org',
      path: '/agents/support',
      id: 'spiffe://example.org/agents/support',
    });
    expect(parseSpiffeId('spiffe://example.org')).toEqual({ trustDomain: 'example.org', path: '', id: 'spiffe://example.org' });
    expect(parseSpiffeId('spiffe://a-b_c.9/Path.With-Upper_Case/x..y').path).toBe('/Path.With-Upper_Case/x..y');
  });

  test.each<[string, SpiffeIdRule]>([
    ['', 'empty'],
    ['http://example.org/a', 'scheme'],
    ['SPIFFE://example.org/a', 'scheme'],
    ['spiffe:/example.org/a', 'scheme'],
    ['spiffe://', 'trust_domain_missing'],
    ['spiffe:///a', 'trust_domain_missing'],
    ['spiffe://Example.org/a', 'trust_domain_characters'],
    ['spiffe://exa mple.org/a', 'trust_domain_characters'],
    ['spiffe://user@example.org/a', 'userinfo'],
    ['spiffe://example.org:8443/a', 'port'],
    ['spiffe://example.org?x=1', 'query'],
    ['spiffe://example.org/a?x=1', 'query'],
    ['spiffe://example.org/a#frag', 'fragment'],
    ['spiffe://example.org#frag', 'fragment'],
    ['spiffe://example.org/a%2Fb', 'percent_encoding'],
    ['spiffe://example%2eorg/a', 'percent_encoding'],
    ['spiffe://example.org//a', 'path_empty_segment'],
    ['spiffe://example.org/a/../b', 'path_dot_segment'],
    ['spiffe://example.org/./a', 'path_dot_segment'],
    ['spiffe://example.org/..', 'path_dot_segment'],
    ['spiffe://example.org/a/', 'path_trailing_slash'],
    ['spiffe://example.org/', 'path_trailing_slash'],
    ['spiffe://example.org/a*b', 'path_characters'],
    ['spiffe://example.org/ägent', 'path_characters'],
  ])('%j breaks rule %s', (value, rule) => {
    expect(ruleOf(value)).toBe(rule);
  });

  test('length limits: 2048 bytes for the ID, 255 for the trust domain', () => {
    const base = 'spiffe://example.org/';
    expect(ruleOf(base + 'a'.repeat(2048 - base.length))).toBe('valid');
    expect(ruleOf(base + 'a'.repeat(2049 - base.length))).toBe('too_long');
    expect(ruleOf(`spiffe://${'a'.repeat(255)}/x`)).toBe('valid');
    expect(ruleOf(`spiffe://${'a'.repeat(256)}/x`)).toBe('trust_domain_too_long');
  });

  test('the error names its rule and never more than the rule', () => {
    const err = (() => {
      try {
        parseSpiffeId('spiffe://example.org:1/a');
      } catch (e) {
        return e as SpiffeIdError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('spiffe_id_invalid');
    expect(err?.message).toBe('invalid SPIFFE ID (port): a SPIFFE ID cannot carry a port');
  });

  test('parseTrustDomain and isSpiffeId', () => {
    expect(parseTrustDomain('prod.example.org')).toBe('prod.example.org');
    expect(() => parseTrustDomain('Prod')).toThrow(SpiffeIdError);
    expect(isSpiffeId('spiffe://example.org/a')).toBe(true);
    expect(isSpiffeId('spiffe://example.org/a/')).toBe(false);
  });

  test('every ID built from the allowed alphabets parses back to its parts', () => {
    const td = fc.stringMatching(/^[a-z0-9._-]{1,40}$/);
    const seg = fc.stringMatching(/^[a-zA-Z0-9._-]{1,20}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(td, fc.array(seg, { maxLength: 6 }), (trustDomain, segments) => {
        const path = segments.map((s) => `/${s}`).join('');
        expect(parseSpiffeId(`spiffe://${trustDomain}${path}`)).toEqual({ trustDomain, path, id: `spiffe://${trustDomain}${path}` });
      }),
    );
  });

  test('inserting a forbidden character anywhere after the scheme is refused', () => {
    fc.assert(
      fc.property(fc.constantFrom('?', '#', '%', '@', ' ', '\\', '*'), fc.nat(20), (c, at) => {
        const id = 'spiffe://example.org/agents/support';
        const i = 9 + (at % (id.length - 9));
        expect(isSpiffeId(id.slice(0, i) + c + id.slice(i))).toBe(false);
      }),
    );
  });
});
