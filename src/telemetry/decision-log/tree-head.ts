/**
 * Signed tree heads: the log's size, its RFC 9162 root and the time, signed by the log's own key
 * as a compact JWS (signed with node:crypto, verified with jose), `typ: tessera-tree-head+jws`. One signature covers every record up to
 * `size`, which is what keeps the per-record cost at one hash.
 */
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { createPoolSigner, type AsyncCompactSigner } from '../../jose/compact-sign.js';
import type { SigningKey } from '../../jose/keys.js';
import { TREE_HEAD_TYP } from '../../jose/typ.js';

export interface TreeHead {
  /** The log's id: one per process (or per authority). */
  readonly log: string;
  readonly size: number;
  /** Hex SHA-256 Merkle tree hash of the first `size` entries. */
  readonly root: string;
  /** When it was signed, ms since the epoch (the log's clock). */
  readonly time: number;
  /**
   * Hex roots of the perfect subtrees that make up the tree, largest first (they fold into
   * `root`): a verifier resumes from here, so a bad record is placed between two heads and does
   * not hide every later one.
   */
  readonly frontier: readonly string[];
}

export interface SignedTreeHead extends TreeHead {
  /** The compact JWS whose payload is the tree head. */
  readonly jws: string;
  readonly kid: string;
}

const ALGORITHMS = ['EdDSA', 'ES256'];
const HEX64 = /^[0-9a-f]{64}$/;
const MAX_JWS = 4096;

// node:crypto on the thread pool signs a head for less CPU than jose's WebCrypto path (80-90 µs
// with the hand-off, against 130 µs, Ed25519), still off the path of the call that completed the
// checkpoint (under 0.04 µs of it runs there); the header is encoded once per key.
const signers = new WeakMap<SigningKey, AsyncCompactSigner>();

export async function signTreeHead(key: SigningKey, head: TreeHead): Promise<SignedTreeHead> {
  let signer = signers.get(key);
  if (signer === undefined) signers.set(key, (signer = createPoolSigner(key, TREE_HEAD_TYP)));
  const jws = await signer({ log: head.log, size: head.size, root: head.root, time: head.time, frontier: head.frontier });
  return Object.freeze({ ...head, jws, kid: key.kid });
}

export type TreeHeadVerifier = (jws: string) => Promise<SignedTreeHead>;

/** Why a tree head was not accepted; the message never quotes the JWS. */
export class TreeHeadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeHeadError';
  }
}

/** A verifier of tree heads against a published JWKS (the log's `jwks()`). */
export function treeHeadVerifier(jwks: JSONWebKeySet): TreeHeadVerifier {
  const keys = createLocalJWKSet(jwks);
  return async (jws) => {
    if (typeof jws !== 'string' || jws.length > MAX_JWS) throw new TreeHeadError('the tree head is not a compact JWS');
    let verified;
    try {
      verified = await compactVerify(jws, keys, { algorithms: ALGORITHMS });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new TreeHeadError(
        code === 'ERR_JWKS_NO_MATCHING_KEY' ? 'the tree head is signed by a key the published key set does not hold' : 'the tree head signature does not verify',
      );
    }
    if (verified.protectedHeader.typ !== TREE_HEAD_TYP) throw new TreeHeadError(`the tree head's typ is not ${TREE_HEAD_TYP}`);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(verified.payload));
    } catch {
      throw new TreeHeadError('the tree head payload is not JSON');
    }
    const b = body as Partial<TreeHead>;
    if (
      typeof b !== 'object' || b === null ||
      typeof b.log !== 'string' ||
      !Number.isSafeInteger(b.size) || (b.size as number) < 0 ||
      typeof b.root !== 'string' || !HEX64.test(b.root) ||
      !Number.isFinite(b.time) ||
      !Array.isArray(b.frontier) || b.frontier.length > 64 || !b.frontier.every((h) => typeof h === 'string' && HEX64.test(h))
    ) {
      throw new TreeHeadError('the tree head payload lacks log, size, root, time or frontier');
    }
    return Object.freeze({
      log: b.log,
      size: b.size!,
      root: b.root,
      time: b.time!,
      frontier: Object.freeze([...b.frontier]),
      jws,
      kid: String(verified.protectedHeader.kid ?? ''),
    });
  };
}
