/**
 * OAuth error responses (RFC 6749 §5.2, RFC 6750 §3, RFC 9396, RFC 9449): one error code per
 * failure, a description a developer can act on, and never a submitted token in the body or a
 * header. Descriptions are built only from our own words and validated names.
 */
import { TesseraError } from '../../errors.js';

/** Every `error` value the authority answers with. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'unsupported_grant_type'
  | 'invalid_authorization_details'
  | 'invalid_dpop_proof'
  | 'access_denied'
  | 'invalid_client'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'slow_down'
  | 'not_found'
  | 'temporarily_unavailable'
  | 'server_error';

export class OAuthError extends TesseraError {
  static override code = 'invalid_request';
  declare readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: OAuthErrorCode, description: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super(`${code}: ${description}`, code, options);
    this.status = status;
    this.description = description;
    this.headers = headers;
  }
}

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
