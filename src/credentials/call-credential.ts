/**
 * The built-in just-in-time credential: a signed call credential (`typ: tessera-call+jwt`),
 * valid for seconds, bound to one tool, one call id and the SHA-256 of the call's arguments,
 * registered live in the store when the call is reserved and revoked when the call ends.
 */
import { generateKeyPairSync } from 'node:crypto';
import { CALL_CREDENTIAL_TYP } from '../jose/typ.js';
import { importSigningKeySync, type JWKS, type PrivateKeyInput } from '../jose/keys.js';
import type { TesseraStore } from '../store/types.js';
import { randomId } from '../util/canonical.js';
import type { Clock } from '../util/time.js';
import { createCompactSigner, createThreadpoolSigner } from '../jose/compact-sign.js';
import type { Credential, CredentialProvider, CredentialRequest } from './types.js';

/**
 * How long a credential's single-use marker outlives the credential's own expiry, in seconds.
 * A verifier must accept at most this much clock skew (verifyCallCredential defaults to 5 s).
 */
export const CREDENTIAL_MARGIN_SEC = 30;

/** The claims of a call credential, as a downstream service sees them after verification. */
export interface CallCredentialClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  tool: string;
  call_id: string;
  args_sha256: string;
  cap_jti: string;
  intent_id: string;
}

/**
 * Where call credentials are signed. `main` signs synchronously on the thread running the call;
 * `threadpool` signs on libuv's thread pool, so that on a machine with more than one core other
 * calls go on while a signature is computed.
 */
export type SignIn = 'main' | 'threadpool';

/** Validates `credentials.signIn`; it only means something for the built-in credentials. */
export function parseSignIn(value: unknown, customProvider: boolean): SignIn {
  if (value === undefined) return 'main';
  if (value !== 'main' && value !== 'threadpool') {
    throw new TypeError(`credentials.signIn must be "main" or "threadpool", got ${JSON.stringify(value) ?? typeof value}`);
  }
  if (customProvider) throw new TypeError('credentials.signIn applies to the built-in call credentials; a custom credentials.provider signs its own');
  return value;
}

/** How long a signature on the thread pool may take before the call is denied. */
export const THREADPOOL_SIGN_DEADLINE_MS = 5000;

export interface SignedCredentialsOptions {
  issuer: string;
  store: TesseraStore;
  clock: Clock;
  /** Key for signing; generated (Ed25519) when absent. */
  signingKey?: PrivateKeyInput;
  /** `kid` for the key; random when absent. */
  kid?: string;
  /** Where to sign; default `main`. */
  signIn?: SignIn;
  /** Deadline for a signature on the thread pool, ms; default THREADPOOL_SIGN_DEADLINE_MS. */
  signDeadlineMs?: number;
}

export interface SignedCredentialProvider extends CredentialProvider {
  readonly issuer: string;
  /** The public key set downstream services verify call credentials with. */
  jwks(): JWKS;
}

export function createSignedCredentials(options: SignedCredentialsOptions): SignedCredentialProvider {
  const key = importSigningKeySync(
    options.signingKey ?? generateKeyPairSync('ed25519').privateKey,
    options.kid ?? randomId(),
    'credentials.signingKey',
  );
  const signIn = parseSignIn(options.signIn, false);
  const deadlineMs = options.signDeadlineMs ?? THREADPOOL_SIGN_DEADLINE_MS;
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) throw new RangeError('signDeadlineMs must be a positive number of ms');
  const sign = signIn === 'main' ? createCompactSigner(key, CALL_CREDENTIAL_TYP) : undefined;
  const signAsync = signIn === 'threadpool' ? createThreadpoolSigner(key, CALL_CREDENTIAL_TYP, deadlineMs) : undefined;
  const { issuer, store, clock } = options;
  return {
    issuer,
    jwks: () => ({ keys: [{ ...key.publicJwk }] }),
    mint(req: CredentialRequest): Credential | Promise<Credential> {
      const now = clock();
      const iat = Math.floor(now / 1000);
      const exp = iat + req.ttlSec;
      const claims: CallCredentialClaims = {
        iss: issuer,
        sub: req.agent,
        aud: req.audience,
        iat,
        exp,
        jti: req.credentialId,
        tool: req.tool,
        call_id: req.callId,
        args_sha256: req.argsHash,
        cap_jti: req.capabilityId,
        intent_id: req.intentId,
      };
      const id = req.credentialId;
      if (sign !== undefined) return { id, token: sign(claims), expiresAt: exp * 1000, type: CALL_CREDENTIAL_TYP };
      return signAsync!(claims).then((token) => ({ id, token, expiresAt: exp * 1000, type: CALL_CREDENTIAL_TYP }));
    },
    revoke(credential: Credential, req: CredentialRequest) {
      return store.revokeCredential(credential.id, (req.ttlSec + CREDENTIAL_MARGIN_SEC) * 1000);
    },
  };
}
