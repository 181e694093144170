/**
 * The safe `pattern` form.
 *
 * A grant's pattern is checked against input chosen by a model, so a pattern that can backtrack
 * catastrophically would let an agent stall the guard. We accept a subset of JavaScript regular
 * expressions whose matching time is polynomial and small:
 *
 * - no backreferences (`\1`, `\k<name>`) and no lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`);
 * - no quantified group that itself contains a quantifier or an alternation (`(a+)+`, `(a|a)*`);
 * - no `{n,m}` bound above 1000;
 * - at most 512 characters of pattern.
 *
 * The pattern always matches the whole value (it is anchored for you) and the value is limited
 * to `SAFE_PATTERN_MAX_INPUT` characters.
 */

export const SAFE_PATTERN_MAX_SOURCE = 512;
export const SAFE_PATTERN_MAX_INPUT = 4096;

/** Returns a reason the pattern is unsafe, or undefined when it is in the safe form. */
export function unsafePatternReason(source: string): string | undefined {
  if (source.length > SAFE_PATTERN_MAX_SOURCE) {
    return `pattern is longer than ${SAFE_PATTERN_MAX_SOURCE} characters`;
  }
  try {
    new RegExp(source, 'u');
  } catch {
    return 'pattern is not a valid regular expression (unicode mode)';
  }
  // One frame per open group: does it contain a quantifier or an alternation?
  const stack: { risky: boolean }[] = [{ risky: false }];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (ch === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'backreferences are not allowed';
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      continue;
    }
    const top = stack[stack.length - 1]!;
    if (ch === '(') {
      if (source.startsWith('(?=', i) || source.startsWith('(?!', i) || source.startsWith('(?<=', i) || source.startsWith('(?<!', i)) {
        return 'lookahead and lookbehind are not allowed';
      }
      stack.push({ risky: false });
      if (source.startsWith('(?:', i)) i += 2;
      else if (source.startsWith('(?<', i)) i = source.indexOf('>', i);
      continue;
    }
    if (ch === ')') {
      const closed = stack.pop();
      if (!closed || stack.length === 0) return 'unbalanced parentheses';
      const after = source[i + 1];
      const quantified = after === '*' || after === '+' || after === '?' || after === '{';
      if (quantified && closed.risky && after !== '?') {
        return 'a quantified group may not contain a quantifier or an alternation (catastrophic backtracking)';
      }
      // A group's riskiness propagates outward: `((a+))+` is as bad as `(a+)+`.
      if (closed.risky || quantified) stack[stack.length - 1]!.risky = true;
      continue;
    }
    if (ch === '|' || ch === '*' || ch === '+' || ch === '?') {
      top.risky = true;
      continue;
    }
    if (ch === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (m) {
        const hi = m[3] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
        if (Number(m[1]) > 1000 || hi > 1000) {
          return 'repetition bounds above 1000 are not allowed';
        }
        top.risky = true;
      }
    }
  }
  if (stack.length !== 1) return 'unbalanced parentheses';
  return undefined;
}

/** Compiles a pattern already checked by `unsafePatternReason`, anchored to the whole value. */
export function compileSafePattern(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, 'u');
}
