/**
 * What the authority answered when it refused, or why it could not be asked. Built from the
 * OAuth error body's `error` and `error_description` only: nothing else of the response, and
 * never the request's tokens, reaches the error or its `cause`.
 */

/**
 * Codes beyond the authority's own OAuth error codes (RFC 6749 §5.2, RFC 8693, RFC 9396,
 * RFC 9449): the authority could not be reached in time, or answered something that is not a
 * conforming OAuth response.
 */
export type { AuthorityClientCode } from '../errors.js';

export { AuthorityRequestError } from '../errors.js';
