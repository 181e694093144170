/**
 * Cross-site request forgery defences for the inbox's forms: a token bound to the session and
 * to the one request the form decides (so a token lifted from one form decides nothing else and
 * dies with the session), and an Origin check, so a post from another site is refused even
 * before the token is looked at.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A token for one form: `<expiresAt base36>.<mac>`. */
export function csrfToken(key: Buffer, sid: string, requestId: string, expiresAt: number): string {
  const exp = Math.floor(expiresAt).toString(36);
  return `${exp}.${mac(key, sid, requestId, exp)}`;
}

function mac(key: Buffer, sid: string, requestId: string, exp: string): string {
  return createHmac('sha256', key).update(`csrf\0${sid}\0${requestId}\0${exp}`).digest('base64url');
}

/** True only for a token this server made for this session and this request, not yet expired. */
export function checkCsrfToken(key: Buffer, token: unknown, sid: string, requestId: string, now: number): boolean {
  if (typeof token !== 'string' || token.length > 200) return false;
  const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (m === null) return false;
  const exp = m[1]!;
  if (!(parseInt(exp, 36) > now)) return false;
  const want = Buffer.from(mac(key, sid, requestId, exp));
  const got = Buffer.from(m[2]!);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * A state-changing request must come from the inbox's own origin: the Origin header equals it,
 * or (when a browser sends no Origin) Sec-Fetch-Site says same-origin. Neither present: refused.
 */
export function sameOrigin(headers: Headers, origin: string): boolean {
  const o = headers.get('origin');
  if (o !== null) return o === origin;
  return headers.get('sec-fetch-site') === 'same-origin';
}
