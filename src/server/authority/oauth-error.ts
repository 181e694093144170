/**
 * OAuth error responses (RFC 6749 §5.2, RFC 6750 §3, RFC 9396, RFC 9449): one error code per
 * failure, a description a developer can act on, and never a submitted token in the body or a
 * header. Descriptions are built only from our own words and validated names.
 */
import { OAuthError } from '../../errors.js';

export { OAuthError };

/** Every `error` value the authority answers with. */
export type { OAuthErrorCode } from '../../errors.js';
import type { OAuthErrorCode } from '../../errors.js';

export const badRequest = (code: OAuthErrorCode, description: string): OAuthError => new OAuthError(400, code, description);
export const unavailable = (description: string, cause?: unknown): OAuthError =>
  new OAuthError(503, 'temporarily_unavailable', description, { 'Retry-After': '5' }, cause === undefined ? undefined : { cause });

/** Printable ASCII without `"` or `\`, as RFC 6749 §5.2 limits error_description: quotes become `'`. */
const safeDescription = (s: string): string =>
  s.replace(/"/g, "'").replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, 1000);

export function oauthErrorResponse(err: OAuthError): Response {
  const body = JSON.stringify({ error: err.code, error_description: safeDescription(err.description) });
  return new Response(body, {
    status: err.status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...err.headers },
  });
}
