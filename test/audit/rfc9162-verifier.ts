/**
 * An inclusion-proof verifier for the tests, written from the text of RFC 9162 §2.1.3.2 and kept
 * apart from src/: it shares no code with the implementation but SHA-256, so a proof the log
 * prints is checked the way a third party would check it.
 */
import { createHash } from 'node:crypto';

/**
 * RFC 9162 §2.1.3.2, step by step as the RFC words it, with BigInt so that no shift is 32-bit.
 * Written apart from src/: shares no code with it but SHA-256.
 */
export function rfcVerifyInclusion(leafIndex: bigint, treeSize: bigint, hash: Buffer, path: readonly Buffer[], root: Buffer): boolean {
  const HASH = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
  // 1. Compare leaf_index from the inclusion_proof_v2 structure against tree_size. If leaf_index
  //    is greater than or equal to tree_size, then fail the proof verification.
  if (leafIndex >= treeSize) return false;
  // 2. Set fn to leaf_index and sn to tree_size - 1.
  let fn = leafIndex;
  let sn = treeSize - 1n;
  // 3. Set r to hash.
  let r = hash;
  // 4. For each value p in the inclusion_path array:
  for (const p of path) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0n) return false;
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if ((fn & 1n) === 1n || fn === sn) {
      // 1. Set r to HASH(0x01 || p || r).
      r = HASH(Buffer.from([1]), p, r);
      // 2. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn)
      //    is set or fn is 0.
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      // Otherwise: Set r to HASH(0x01 || r || p).
      r = HASH(Buffer.from([1]), r, p);
    }
    // c. Finally, right-shift both fn and sn one time.
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the
  //    root_hash are equal, then the log has proven the inclusion of hash.
  return sn === 0n && r.equals(root);
}

