/**
 * The path form `pathWithin` accepts: one whose meaning does not depend on who decodes it,
 * normalizes it or resolves it.
 *
 * A check only holds if the tool opens the path the check saw. So the value is refused, not
 * repaired, when a later step could turn it into something else: a percent-escape that decodes
 * (once or after repeated decoding) to a dot, a separator or another escape, a character that
 * Unicode compatibility normalization turns into one, a backslash that some file APIs treat as a
 * separator, a control character, and a `..` segment (which the kernel resolves through symbolic
 * links, unlike string normalization). A relative path is resolved by the tool against its own
 * working directory, which the guard cannot see, so it is refused unless the grant says so.
 */
import { posix } from 'node:path';

/** Longest path `pathWithin` accepts, in UTF-16 code units. */
export const PATH_MAX_INPUT = 4096;
/** The one refusal that is a judgement about the location rather than about the form. */
export const PATH_OUTSIDE_ROOT = 'resolves outside the root';
/** Percent-encoding layers decoded before a path is refused as too deeply encoded. */
const MAX_DECODE_DEPTH = 3;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const NON_ASCII = /[^\u0000-\u007f]/;
const SIGNIFICANT = /[./\\%]/g;
const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const IIS_ESCAPE = /%u[0-9A-Fa-f]{4}/i;
const FORBIDDEN_DECODED = /[./\\%\u0000-\u001f\u007f-\u009f]/;

const count = (s: string): number => s.match(SIGNIFICANT)?.length ?? 0;

/** Checks one layer of the path (as written, or after some decoding); phrased to follow "it". */
function layerProblem(layer: string): string | undefined {
  if (LONE_SURROGATE.test(layer)) return 'contains an unpaired surrogate';
  if (CONTROL.test(layer)) return 'contains a control character';
  if (layer.includes('\\')) return 'contains a backslash';
  if (NON_ASCII.test(layer) && count(layer.normalize('NFKC')) !== count(layer)) {
    return "contains a character that Unicode normalization turns into '.', '/', '\\' or '%'";
  }
  if (IIS_ESCAPE.test(layer)) return 'contains a %u escape';
  return undefined;
}

/** Decodes every run of percent-escapes once; returns why not when a run is refused. */
function decodeOnce(layer: string): { text: string } | { problem: string } {
  let problem: string | undefined;
  const text = layer.replace(ESCAPE_RUN, (run) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(run);
    } catch {
      problem ??= 'contains percent-escapes that are not valid UTF-8';
      return run;
    }
    if (FORBIDDEN_DECODED.test(decoded)) {
      problem ??= "contains a percent-escape of '.', '/', '\\', '%' or a control character";
    }
    return decoded;
  });
  return problem === undefined ? { text } : { problem };
}

/**
 * Why `value` is not a path within `root`, phrased to follow "it", or undefined when it is.
 * `root` is an absolute, normalized POSIX path (the schema checks it).
 */
export function pathWithinProblem(root: string, value: string, allowRelative: boolean): string | undefined {
  if (value.length === 0) return 'is empty';
  if (value.length > PATH_MAX_INPUT) return `is longer than ${PATH_MAX_INPUT} characters`;
  let layer = value;
  for (let depth = 0; ; depth++) {
    const why = layerProblem(layer);
    if (why !== undefined) return why;
    const next = decodeOnce(layer);
    if ('problem' in next) return next.problem;
    if (next.text === layer) break;
    if (depth >= MAX_DECODE_DEPTH) return `is percent-encoded more than ${MAX_DECODE_DEPTH} levels deep`;
    layer = next.text;
  }
  if (value.split('/').includes('..')) return "contains a '..' segment";
  if (value.startsWith('//')) return "starts with '//', whose meaning POSIX leaves to the system";
  if (!value.startsWith('/') && !allowRelative) return 'is a relative path and the grant allows only absolute ones';
  const resolved = posix.resolve(root, value);
  const inside = root === '/' || resolved === root || resolved.startsWith(`${root}/`);
  return inside ? undefined : PATH_OUTSIDE_ROOT;
}
