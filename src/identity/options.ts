/** The shape check every factory that takes an identity verifier uses (see `parseOptions`). */
import { objectWithMethods } from '../util/option-schemas.js';
import type { IdentityVerifier } from './types.js';

export const identityVerifierOption = objectWithMethods<IdentityVerifier>(
  ['verify'],
  'an IdentityVerifier (an object with verify)',
);
