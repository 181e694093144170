/**
 * The URL form `hostIn` accepts: one that every URL parser reads the same way.
 *
 * A guard that reads the host one way while the tool's HTTP client reads it another is no
 * guard (`https://example.com\@evil.com` is example.com to WHATWG and evil.com to RFC 3986).
 * Rather than list the tricks, the raw text must fit a strict shape built from characters on
 * which WHATWG URL and RFC 3986 agree, and the WHATWG parser must then report the same scheme
 * and host that the shape gave. Nothing is normalized: the host is compared as written.
 */

/** Longest URL `hostIn` accepts, in UTF-16 code units. */
export const URL_MAX_INPUT = 4096;

// RFC 3986 unreserved, reserved and '%', minus '[' and ']' (IPv6 literals are not accepted and
// WHATWG passes brackets elsewhere through where RFC 3986 refuses them).
const URL_CHARS = /^[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const SCHEME = /^[a-z][a-z0-9+.-]*$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

export interface StrictUrl {
  readonly scheme: string;
  readonly host: string;
}

/**
 * Why a host, as written, is not a lowercase DNS name or dotted-decimal IPv4 address, or
 * undefined when it is. Used for the value and for the grant's own host entries.
 */
export function hostShapeProblem(host: string): string | undefined {
  if (host.length === 0) return 'has no host';
  if (host.length > 253) return 'has a host longer than 253 characters';
  if (/[A-Z]/.test(host)) return 'must write the host in lowercase';
  const labels = host.split('.');
  if (!labels.every((l) => LABEL.test(l))) {
    return 'has a host that is not a DNS name (letters, digits and inner hyphens in dot-separated labels; no empty label, no trailing dot)';
  }
  // WHATWG reads a host whose last label is a number as IPv4 (`0x7f.1`, `2130706433` and
  // `127.1` are all 127.0.0.1) where RFC 3986 sees a name: only the canonical form is shared.
  if (NUMERIC_LABEL.test(labels[labels.length - 1]!) && !IPV4.test(host)) {
    return 'has a numeric host that is not a dotted-decimal IPv4 address such as 192.0.2.1';
  }
  return undefined;
}

/** Parses a URL in the strict form, or returns why it is not in it (phrased to follow the name). */
export function parseStrictUrl(value: string): StrictUrl | string {
  if (value.length > URL_MAX_INPUT) return `must be a URL of at most ${URL_MAX_INPUT} characters`;
  if (!URL_CHARS.test(value)) {
    return 'must be written in printable ASCII without spaces, control characters, backslashes, quotes, brackets, braces, <, >, |, ^ or ` (percent-encode them in the path or query)';
  }
  if (BAD_ESCAPE.test(value)) return "has a '%' that does not start a percent-escape (%XX)";
  const sep = value.indexOf('://');
  const scheme = sep < 0 ? '' : value.slice(0, sep);
  if (!SCHEME.test(scheme)) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme)) return 'must write the scheme in lowercase';
    return 'must be an absolute URL of the form scheme://host/path';
  }
  const rest = value.slice(sep + 3);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  if (authority.includes('@')) return "must not carry a user name or password (no '@' before the host)";
  if (authority.includes('%')) return 'must not percent-encode the host';
  const colon = authority.indexOf(':');
  const host = colon < 0 ? authority : authority.slice(0, colon);
  if (colon >= 0) {
    const port = authority.slice(colon + 1);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return 'has a port that is not a number from 0 to 65535';
  }
  const shape = hostShapeProblem(host);
  if (shape !== undefined) return shape;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL the WHATWG URL parser accepts';
  }
  if (url.protocol !== `${scheme}:` || url.hostname !== host || url.username !== '' || url.password !== '') {
    return 'is read differently by the WHATWG URL parser than as written';
  }
  return { scheme, host };
}

/** Does a host match one of the grant's entries (`*.example.com` matches below it, never itself)? */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  for (const entry of allowed) {
    if (entry.startsWith('*.')) {
      if (host.length > entry.length - 1 && host.endsWith(entry.slice(1))) return true;
    } else if (host === entry) {
      return true;
    }
  }
  return false;
}
