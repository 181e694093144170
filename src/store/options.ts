/** The shape check every factory that takes a store uses (see `parseOptions`). */
import { objectWithMethods } from '../util/option-schemas.js';
import type { TesseraStore } from './types.js';

export const storeOption = objectWithMethods<TesseraStore>(
  ['reserve', 'revoke', 'consumeOnce', 'consumeCredential', 'revokeCredential'],
  'a TesseraStore (an object with reserve, revoke, consumeOnce, consumeCredential and revokeCredential)',
);
