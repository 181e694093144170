/**
 * What the downstream providers (PostgreSQL roles, Redis ACL users) share: generated names and
 * passwords, a credential object that never shows its secret, and the reaper's timer.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { inspect } from 'node:util';
import { z } from 'zod';
import { CredentialProvisioningError } from '../errors.js';
import { withDeadline } from '../util/deadline.js';
import type { Credential, CredentialRequest } from './types.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A name for one credential: `prefix` then 26 random base32 characters (130 bits). Never derived
 * from the model's input, and in an alphabet every downstream system accepts unquoted.
 */
export function randomName(prefix: string): string {
  const bytes = randomBytes(26);
  let out = prefix;
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

/** A password with 256 bits of entropy, in characters every client and URL accepts as is. */
export const randomPassword = (): string => randomBytes(32).toString('base64url');

// Random bytes drawn 64 credentials at a time: one draw of the system's source costs as much as
// the rest of building a credential. Each byte is handed out once and zeroed as it is used, so
// the pool never holds a password that was issued.
const DRAW = 58;
const pool = Buffer.alloc(DRAW * 64);
let poolAt = pool.length;

/** `randomName(prefix)` and `randomPassword()` as one draw: 26 name characters, 32 password bytes. */
export function randomNameAndPassword(prefix: string): { name: string; password: string } {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const bytes = pool.subarray(poolAt, (poolAt += DRAW));
  let name = prefix;
  for (let i = 0; i < 26; i++) name += BASE32[bytes[i]! & 31];
  const password = bytes.toString('base64url', 26, DRAW);
  bytes.fill(0);
  return { name, password };
}

/** Role and user name prefixes: lowercase, so the name is the same quoted or not. */
export const namePrefixOption = z
  .string()
  .min(1)
  .max(24)
  .regex(/^[a-z][a-z0-9_]*$/, { message: 'must start with a lowercase letter and use only a-z, 0-9 and "_"' });

/** Ms between reaper sweeps: at least a second, at most an hour; 0 turns the reaper off. */
export const reapIntervalOption = z.union([z.literal(0), z.number().int().min(1000).max(3_600_000)]);

/**
 * The credential as the tool sees it. The secret lives in a private field: `token` is a getter on
 * the prototype, so neither `util.inspect`, `JSON.stringify` nor a spread shows it.
 */
export class DownstreamCredential implements Credential {
  readonly id: string;
  readonly type: string;
  readonly expiresAt: number;
  /** The role or user name: public, recorded on the span. */
  readonly principal: string;
  readonly #token: string;

  constructor(id: string, type: string, expiresAt: number, principal: string, token: string) {
    this.id = id;
    this.type = type;
    this.expiresAt = expiresAt;
    this.principal = principal;
    this.#token = token;
  }

  get token(): string {
    return this.#token;
  }

  toJSON(): Record<string, unknown> {
    return { id: this.id, type: this.type, expiresAt: this.expiresAt, principal: this.principal };
  }

  [inspect.custom](): string {
    return `${this.constructor.name} { id: ${JSON.stringify(this.id)}, type: ${JSON.stringify(this.type)}, principal: ${JSON.stringify(this.principal)}, expiresAt: ${this.expiresAt} }`;
  }
}

/** The credential's expiry in ms, in whole seconds like the built-in call credential's `exp`. */
export function expiryMs(nowMs: number, request: CredentialRequest): number {
  if (!Number.isInteger(request.ttlSec) || request.ttlSec < 1) {
    throw new CredentialProvisioningError(`the credential for "${request.tool}" needs a lifetime of at least one whole second`);
  }
  return (Math.floor(nowMs / 1000) + request.ttlSec) * 1000;
}

/** The tool's names, from a record of declarations; a Map, as the keys are tool names. */
export function declarationMap<T>(record: Readonly<Record<string, T>>): ReadonlyMap<string, T> {
  return new Map(Object.entries(record));
}

/**
 * Keeps the candidates a call would be allowed with: each is substituted for the argument `name`
 * in the call's arguments and checked against the grant, so every kind of constraint (`in`, `eq`,
 * `startsWith`, `pattern`, along the whole delegation chain) narrows the declaration the same way.
 */
export function narrowByGrant(request: CredentialRequest, name: string, candidates: readonly string[]): string[] {
  const { grantAllows, args } = request;
  if (grantAllows === undefined || args === undefined) {
    throw new CredentialProvisioningError(
      `the credential for "${request.tool}" is narrowed by the grant, and this request carries no grant to narrow it with`,
    );
  }
  return candidates.filter((candidate) => grantAllows({ ...args, [name]: candidate }));
}

export interface Reaper {
  /** One sweep now: removes every expired credential; resolves with how many it removed. */
  sweep(): Promise<number>;
  /** Stops the interval (a running sweep finishes). */
  stop(): void;
}

/**
 * Runs `sweep` every `intervalMs` on an unref'd timer (it never keeps the process alive), one
 * sweep at a time, each within `deadlineMs`. Errors go to `onError` and the next sweep tries again.
 */
export function startReaper(
  sweep: () => Promise<number>,
  intervalMs: number,
  deadlineMs: number,
  what: string,
  onError: ((err: unknown) => void) | undefined,
): Reaper {
  let running: Promise<number> | undefined;
  const once = (): Promise<number> => {
    running ??= Promise.resolve(withDeadline(sweep(), deadlineMs, what)).finally(() => {
      running = undefined;
    });
    return running;
  };
  let timer: NodeJS.Timeout | undefined;
  if (intervalMs > 0) {
    timer = setInterval(() => {
      once().catch((err: unknown) => {
        try {
          onError?.(err);
        } catch {
          // The hook only informs.
        }
      });
    }, intervalMs);
    timer.unref();
  }
  return {
    sweep: once,
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
