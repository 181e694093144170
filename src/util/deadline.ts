/**
 * Deadlines for calls into code the guard does not own (stores, verifiers, provers, credential
 * providers, key sources). A dependency that answers synchronously is never given a timer, so
 * the synchronous fast path stays synchronous; one that returns a promise is raced against one.
 */

/** A dependency did not answer in time. The message names what and how long, never a value. */
export class DeadlineError extends Error {
  readonly what: string;
  readonly ms: number;

  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlineError';
    this.what = what;
    this.ms = ms;
  }
}

/** Any thenable, not only native promises: a foreign thenable can hang as well as a promise. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * `value` unchanged when it is not a thenable (no timer is created); otherwise a promise that
 * settles with it, or rejects with a `DeadlineError` after `ms` (calling `onExpire` first, e.g.
 * to abort the dependency's signal).
 */
export function withDeadline<T>(
  value: T | PromiseLike<T>,
  ms: number,
  what: string,
  onExpire?: (err: DeadlineError) => void,
): T | Promise<T> {
  if (!isThenable(value)) return value as T;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new DeadlineError(what, ms);
      try {
        onExpire?.(err);
      } finally {
        reject(err);
      }
    }, ms);
    // Promise.resolve adopts foreign thenables too; a `then` that throws becomes a rejection.
    Promise.resolve(value).then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * An AbortSignal created only if a dependency asks for it (most never do, and an AbortController
 * per call is measurable on the hot path). It follows `parent` and can be aborted on a deadline.
 */
export class LazySignal {
  #controller: AbortController | undefined;
  #parent: AbortSignal | undefined;
  #onParentAbort: (() => void) | undefined;

  constructor(parent?: AbortSignal) {
    this.#parent = parent;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      const parent = this.#parent;
      if (parent !== undefined) {
        if (parent.aborted) {
          controller.abort(parent.reason);
        } else {
          this.#onParentAbort = () => controller.abort(parent.reason);
          parent.addEventListener('abort', this.#onParentAbort, { once: true });
        }
      }
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#controller?.abort(reason);
  }

  /** Stops following the parent: a long-lived caller signal must not collect one listener per call. */
  release(): void {
    if (this.#onParentAbort !== undefined) {
      this.#parent?.removeEventListener('abort', this.#onParentAbort);
      this.#onParentAbort = undefined;
    }
  }
}
