import { z } from 'zod';
import { isObject } from '../util/option-schemas.js';
import type { JWKS } from './keys.js';

/** A JWKS: an object with a `keys` array; the keys themselves are checked when imported. */
export const jwksOption = z.custom<JWKS>((v) => isObject(v) && Array.isArray(v.keys), {
  message: 'must be a JWKS ({ keys: [...] })',
});
