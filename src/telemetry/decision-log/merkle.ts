/**
 * The Merkle tree of RFC 9162 §2.1 (Certificate Transparency v2), SHA-256: leaf hashes, tree
 * hashes, inclusion and consistency proofs, and their verification. Indices and sizes are plain
 * numbers (safe up to 2^53 leaves); halving is done with arithmetic, never with 32-bit bit
 * operators.
 */
import { createHash } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';

export type Hash = Buffer;

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

// One-shot `crypto.hash` (Node 20.12+) skips the Hash object.
const oneShot = (nodeCrypto as {
  hash?: { (alg: string, data: string | Buffer, encoding: 'buffer'): Buffer; (alg: string, data: string | Buffer, encoding: 'binary'): string };
}).hash;

/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT: Hash = createHash('sha256').digest();

/** HASH(0x00 || entry): the leaf hash of one log entry's bytes. */
export function leafHash(entry: string | Uint8Array): Hash {
  if (typeof entry === 'string') return Buffer.from(leafDigest(entry), 'latin1');
  return createHash('sha256').update(LEAF).update(entry).digest();
}

/** HASH(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  return oneShot !== undefined ? oneShot('sha256', Buffer.concat([NODE, left, right]), 'buffer') : createHash('sha256').update(NODE).update(left).update(right).digest();
}

/*
 * The log's own hashing keeps digests as 32-character latin1 (`binary`) strings, one character
 * per byte: a digest returned as a Buffer costs an ArrayBuffer per hash, about half of a one-shot
 * hash of a 400-byte record (0.5 µs of 1.0); a node hash's input is written into one reused buffer.
 */
/** `leafHash(entry)` as a latin1 string. */
export function leafDigest(entry: string): string {
  // A NUL prefix on the string is the 0x00 byte in UTF-8.
  return oneShot !== undefined ? oneShot('sha256', `\u0000${entry}`, 'binary') : createHash('sha256').update(LEAF).update(entry, 'utf8').digest('binary');
}

/** `leafDigest` of an entry given with its NUL prefix already in place (`\u0000` + entry). */
export function prefixedLeafDigest(prefixed: string): string {
  return oneShot !== undefined ? oneShot('sha256', prefixed, 'binary') : createHash('sha256').update(prefixed, 'utf8').digest('binary');
}

const nodeInput = Buffer.alloc(65);
nodeInput[0] = 1;

/** `nodeHash` of two latin1 digests, as a latin1 string. */
export function nodeDigest(left: string, right: string): string {
  if (left.length !== 32 || right.length !== 32 || oneShot === undefined) {
    return createHash('sha256').update(NODE).update(left, 'latin1').update(right, 'latin1').digest('binary');
  }
  nodeInput.write(left, 1, 32, 'latin1');
  nodeInput.write(right, 33, 32, 'latin1');
  return oneShot('sha256', nodeInput, 'binary');
}

/** Largest power of two strictly below n (n > 1). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number): boolean => n >= 1 && splitPoint(n * 2) === n;

/** MTH(D[lo:hi]) over leaf hashes. */
export function subtreeHash(leaves: readonly Hash[], lo = 0, hi = leaves.length): Hash {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo]!;
  const k = splitPoint(n);
  return nodeHash(subtreeHash(leaves, lo, lo + k), subtreeHash(leaves, lo + k, hi));
}

/**
 * An append-only tree kept as its frontier: the roots of the perfect subtrees that make up the
 * leaves so far, largest first. Appending costs on average one node hash; the root costs at most
 * log2(size) more.
 */
export class CompactTree {
  /** Latin1 digests (see `leafDigest`). */
  private readonly nodes: string[] = [];
  private readonly sizes: number[] = [];
  size = 0;

  append(leaf: Hash): void {
    this.appendDigest(leaf.toString('latin1'));
  }

  /** Appends a leaf given as a latin1 digest (`leafDigest`). */
  appendDigest(leaf: string): void {
    let hash = leaf;
    let width = 1;
    while (this.sizes.length > 0 && this.sizes[this.sizes.length - 1] === width) {
      this.sizes.pop();
      hash = nodeDigest(this.nodes.pop()!, hash);
      width *= 2;
    }
    this.nodes.push(hash);
    this.sizes.push(width);
    this.size++;
  }

  /** The perfect subtrees' roots, largest first: with `size`, all a verifier needs to carry on appending. */
  frontier(): Hash[] {
    return this.nodes.map((h) => Buffer.from(h, 'latin1'));
  }

  /** A tree of `size` leaves given by its frontier; undefined when the frontier's length does not fit `size`. */
  static fromFrontier(size: number, frontier: readonly Hash[]): CompactTree | undefined {
    const t = new CompactTree();
    let rest = size;
    let width = 1;
    const widths: number[] = [];
    while (rest > 0) {
      if (rest % 2 === 1) widths.unshift(width);
      rest = Math.floor(rest / 2);
      width *= 2;
    }
    if (widths.length !== frontier.length) return undefined;
    t.nodes.push(...frontier.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('latin1')));
    t.sizes.push(...widths);
    t.size = size;
    return t;
  }

  /** MTH of every leaf appended so far. */
  root(): Hash {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let hash = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) hash = nodeDigest(this.nodes[i]!, hash);
    return Buffer.from(hash, 'latin1');
  }
}

/** PATH(m, D[lo:hi]) of RFC 9162 §2.1.3.1, over leaf hashes. */
export function inclusionPath(leaves: readonly Hash[], index: number, size = leaves.length): Hash[] {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size || size > leaves.length) throw new RangeError('leaf index out of range');
  const path: Hash[] = [];
  const walk = (m: number, lo: number, hi: number): void => {
    const n = hi - lo;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, lo, lo + k);
      path.push(subtreeHash(leaves, lo + k, hi));
    } else {
      walk(m - k, lo + k, hi);
      path.push(subtreeHash(leaves, lo, lo + k));
    }
  };
  walk(index, 0, size);
  return path;
}

/** PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1, over leaf hashes. */
export function consistencyProof(leaves: readonly Hash[], first: number, second = leaves.length): Hash[] {
  if (!Number.isSafeInteger(first) || first < 0 || first > second || second > leaves.length) throw new RangeError('tree sizes out of range');
  if (first === 0 || first === second) return [];
  const proof: Hash[] = [];
  const sub = (m: number, lo: number, hi: number, complete: boolean): void => {
    const n = hi - lo;
    if (m === n) {
      if (!complete) proof.push(subtreeHash(leaves, lo, hi));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, lo, lo + k, complete);
      proof.push(subtreeHash(leaves, lo + k, hi));
    } else {
      sub(m - k, lo + k, hi, false);
      proof.push(subtreeHash(leaves, lo, lo + k));
    }
  };
  sub(first, 0, second, true);
  return proof;
}

const lsb = (n: number): boolean => n % 2 === 1;
const isHash = (h: Uint8Array): boolean => h instanceof Uint8Array && h.length === 32;
const half = (n: number): number => Math.floor(n / 2);

/** RFC 9162 §2.1.3.2: does `path` prove `leaf` at `index` in the tree of `size` leaves with `root`? */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !path.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && Buffer.from(r).equals(root);
}

/** RFC 9162 §2.1.4.2: does `proof` show that the tree (`second`, `secondRoot`) extends (`first`, `firstRoot`)? */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  // Nothing can be proven from the empty tree: its root commits to nothing.
  if (first === 0) return false;
  // A tree is consistent with itself, without a proof.
  if (first === second) return proof.length === 0 && Buffer.from(firstRoot).equals(secondRoot);
  if (!isHash(firstRoot) || !isHash(secondRoot) || !proof.every(isHash)) return false;
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && Buffer.from(fr).equals(firstRoot) && Buffer.from(sr).equals(secondRoot);
}
