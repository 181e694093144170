/**
 * The one place a regular expression written by a person meets text chosen by a model.
 *
 * Patterns are matched by re2js, a port of RE2: an automaton walks the input once, so no
 * pattern can make matching backtrack. A grammar check in front of a backtracking engine cannot
 * be made sound by adding rules; an engine without backtracking needs none.
 *
 * Linear is not the same as fast: RE2's cost per input character grows with the size of the
 * compiled program, and once its DFA runs out of memory it falls back to a much slower NFA.
 * The source length, the program size and the input length are therefore all bounded, chosen
 * so that the worst pattern against the longest input stays well under a millisecond.
 */
import { RE2JS } from 're2js';

/** Longest pattern source, in UTF-16 code units. */
export const PATTERN_MAX_SOURCE = 512;
/**
 * Largest compiled program, in RE2 instructions. A bounded repeat costs one instruction per
 * step (`[a-z]{1,63}` is 127), so long bounded repeats are the usual way to reach it; state the
 * length with `maxLength` and use `+` or `*` in the pattern instead.
 */
export const PATTERN_MAX_PROGRAM = 256;
/** Longest value a pattern is matched against, in UTF-16 code units; longer values never match. */
export const PATTERN_MAX_INPUT = 4096;

/** A compiled pattern: `test` is a full match of the whole value. */
export interface CompiledPattern {
  readonly source: string;
  /** True when the whole value matches; false for a value longer than `PATTERN_MAX_INPUT`. */
  test(value: string): boolean;
}

/** Why RE2 refused a pattern, phrased to follow "it", without the library's own prefix. */
function re2Reason(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const m = /^error parsing regexp: ([^:`]+)/.exec(raw);
  const what = (m?.[1] ?? 'unparsable').trim();
  return `is not valid RE2 syntax (${what}; RE2 has no backreferences, lookahead or lookbehind)`;
}

function build(source: string): RE2JS | string {
  if (source.length > PATTERN_MAX_SOURCE) return `is longer than ${PATTERN_MAX_SOURCE} characters`;
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    return re2Reason(err);
  }
  if (re.programSize() > PATTERN_MAX_PROGRAM) {
    return `compiles to ${re.programSize()} instructions, more than ${PATTERN_MAX_PROGRAM} (long bounded repeats such as {1,200} cost one each: bound the length with maxLength and use + or * instead)`;
  }
  return re;
}

/** Returns why a pattern is refused, or undefined when it is accepted. */
export function patternProblem(source: string): string | undefined {
  const built = build(source);
  return typeof built === 'string' ? built : undefined;
}

// Capabilities are verified again and again with the same few patterns: one compiled program
// per distinct source is shared, so a pattern is compiled once per process, not once per token.
const CACHE_SIZE = 256;
const cache = new Map<string, CompiledPattern>();

/**
 * Compiles a pattern for whole-value matching. Throws a TypeError when the pattern is refused
 * (see `patternProblem`); grants and rules are validated before they get here.
 */
export function compilePattern(source: string): CompiledPattern {
  const hit = cache.get(source);
  if (hit !== undefined) return hit;
  const built = build(source);
  if (typeof built === 'string') throw new TypeError(`pattern ${built}`);
  const compiled: CompiledPattern = Object.freeze({
    source,
    test: (value: string) => value.length <= PATTERN_MAX_INPUT && built.testExact(value),
  });
  if (cache.size >= CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(source, compiled);
  return compiled;
}

/**
 * Compiles RE2 source built by this package (never user text as-is) for whole-value matching,
 * without the size bounds that apply to grant patterns.
 */
export function compileInternalPattern(source: string): (value: string) => boolean {
  const re = RE2JS.compile(source);
  return (value) => re.testExact(value);
}

/** Escapes text so that RE2 reads it literally. */
export const quotePattern = (text: string): string => RE2JS.quote(text);
