/**
 * Compact JWS signing for tokens that are ours to make on the hot path.
 *
 * jose signs through WebCrypto, which Node runs on its thread pool with a promise per step; for
 * a signature we make on every call, node:crypto's sign is 2-3x cheaper. It signs either on the
 * calling thread (synchronous) or, given a callback, on libuv's thread pool, which leaves the
 * main thread free to run other calls while a signature is computed. Everything untrusted is
 * still parsed and verified by jose.
 */
import { sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import type { JWK } from 'jose';
import type { SigningKey } from './keys.js';
import { TesseraError } from '../errors.js';

export type CompactSigner = (payload: object) => string;
export type AsyncCompactSigner = (payload: object) => Promise<string>;

interface Prepared {
  readonly input: (payload: object) => string;
  readonly digest: string | null;
  readonly sigKey: KeyObject | SignKeyObjectInput;
}

function prepare(key: SigningKey, protectedHeader: object): Prepared {
  const header = Buffer.from(JSON.stringify(protectedHeader)).toString('base64url');
  const privateKey = key.privateKey;
  return {
    input: (payload) => `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`,
    digest: key.alg === 'EdDSA' ? null : 'sha256',
    sigKey: key.alg === 'EdDSA' ? privateKey : { key: privateKey, dsaEncoding: 'ieee-p1363' },
  };
}

/** Binds a key and a `typ` into a signer; the protected header is encoded once. */
export function createCompactSigner(key: SigningKey, typ: string): CompactSigner {
  return signerOf(prepare(key, { alg: key.alg, typ, kid: key.kid }));
}

/**
 * A signer whose header carries the public key itself (`jwk`) instead of a `kid`: for proofs of
 * possession, which the verifier trusts only through the key's thumbprint pinned elsewhere.
 */
export function createEmbeddedKeySigner(key: SigningKey, typ: string, publicJwk: JWK): CompactSigner {
  return signerOf(prepare(key, { alg: key.alg, typ, jwk: publicJwk }));
}

function signerOf({ input: signingInput, digest, sigKey }: Prepared): CompactSigner {
  return (payload) => {
    const input = signingInput(payload);
    // The signing input is base64url text, so latin1 encodes it byte for byte without a UTF-8 pass.
    return `${input}.${sign(digest, Buffer.from(input, 'latin1'), sigKey).toString('base64url')}`;
  };
}

/**
 * The same signer on libuv's thread pool, with no deadline of its own: for signatures made off
 * any call's path and retried by their owner, such as a decision log's tree heads.
 */
export function createPoolSigner(key: SigningKey, typ: string): AsyncCompactSigner {
  const { input: signingInput, digest, sigKey } = prepare(key, { alg: key.alg, typ, kid: key.kid });
  return (payload) => {
    const input = signingInput(payload);
    return new Promise<string>((resolve, reject) => {
      sign(digest, Buffer.from(input, 'latin1'), sigKey, (err, signature) => {
        if (err !== null) reject(err);
        else resolve(`${input}.${signature.toString('base64url')}`);
      });
    });
  };
}

/**
 * The same signer, signing on libuv's thread pool. The pool is shared with file system, DNS
 * and zlib work, so a signature that has not come back within `deadlineMs` (checked every
 * quarter of it, so at most 1.25 times it) is given up on: the promise rejects with
 * `credential_unavailable`. One watchdog timer serves every pending signature, because a timer
 * per signature costs the main thread more than the rest of the hand-off.
 */
export function createThreadpoolSigner(key: SigningKey, typ: string, deadlineMs: number): AsyncCompactSigner {
  const { input: signingInput, digest, sigKey } = prepare(key, { alg: key.alg, typ, kid: key.kid });
  interface Job {
    readonly startedAt: number;
    readonly reject: (err: Error) => void;
  }
  // In start order, so the watchdog stops at the first signature still within its deadline.
  const pending = new Set<Job>();
  let watchdog: NodeJS.Timeout | undefined;
  const watch = (): void => {
    const now = performance.now();
    for (const job of pending) {
      if (now - job.startedAt < deadlineMs) break;
      pending.delete(job);
      job.reject(new TesseraError(`the call credential was not signed within ${deadlineMs} ms (the thread pool is busy)`, 'credential_unavailable'));
    }
    if (pending.size === 0) {
      clearInterval(watchdog);
      watchdog = undefined;
    }
  };
  return (payload) => {
    const input = signingInput(payload);
    return new Promise<string>((resolve, reject) => {
      const job: Job = { startedAt: performance.now(), reject };
      pending.add(job);
      if (watchdog === undefined) {
        watchdog = setInterval(watch, Math.max(1, deadlineMs / 4));
        watchdog.unref();
      }
      sign(digest, Buffer.from(input, 'latin1'), sigKey, (err, signature) => {
        // Given up on by the watchdog: the call was already denied.
        if (!pending.delete(job)) return;
        if (err !== null) reject(new TesseraError('the call credential could not be signed', 'credential_unavailable', { cause: err }));
        else resolve(`${input}.${signature.toString('base64url')}`);
      });
    });
  };
}
