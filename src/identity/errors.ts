import { TesseraError } from '../errors.js';

export type IdentityErrorCode = 'identity_invalid' | 'identity_mismatch' | 'identity_unavailable' | 'proof_invalid';

/** An identity token or proof was refused (`identity_invalid`, `proof_invalid`) or could not be checked (`identity_unavailable`). */
export class IdentityError extends TesseraError {
  static override code = 'identity_invalid';
  declare readonly code: IdentityErrorCode;
  readonly reason: string;

  constructor(code: IdentityErrorCode, reason: string, options?: { cause?: unknown }) {
    super(reason, code, options);
    this.reason = reason;
  }
}
