/**
 * A deadline on a call into code the authority does not own: an identity provider, a store, a
 * signer. The servers always await the answer, so this runs `run` (synchronous or not) under the
 * package's one deadline race.
 */
import { DeadlineError, withDeadline as race } from '../../util/deadline.js';

export { DeadlineError };

export async function withDeadline<T>(what: string, ms: number, run: () => T | Promise<T>): Promise<T> {
  return race(Promise.resolve().then(run), ms, what);
}
