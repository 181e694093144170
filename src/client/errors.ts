/**
 * What the authority answered when it refused, or why it could not be asked. Built from the
 * OAuth error body's `error` and `error_description` only: nothing else of the response, and
 * never the request's tokens, reaches the error or its `cause`.
 */
import { TesseraError } from '../errors.js';

/**
 * Codes beyond the authority's own OAuth error codes (RFC 6749 §5.2, RFC 8693, RFC 9396,
 * RFC 9449): the authority could not be reached in time, or answered something that is not a
 * conforming OAuth response.
 */
export type AuthorityClientCode = 'authority_unreachable' | 'invalid_response';

export class AuthorityRequestError extends TesseraError {
  static override code = 'authority_error';
  /** The OAuth `error` (`invalid_request`, `invalid_authorization_details`, ...) or an `AuthorityClientCode`. */
  declare readonly code: string;
  /** The authority's `error_description`, or what went wrong on the way there. */
  readonly description: string;
  /** The HTTP status, when the authority answered. */
  readonly status: number | undefined;
  /** Seconds to wait before asking again, from `Retry-After` on a rate-limited answer. */
  readonly retryAfterSec: number | undefined;

  constructor(code: string, description: string, details: { status?: number | undefined; retryAfterSec?: number | undefined } = {}) {
    super(`Authority request failed (${code}): ${description}`, code);
    this.description = description;
    this.status = details.status;
    this.retryAfterSec = details.retryAfterSec;
  }
}
