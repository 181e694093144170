// The class lives with every other error class; this module keeps existing imports working.
export { IdentityError } from '../errors.js';
export type { IdentityErrorCode } from '../errors.js';
