/**
 * The Merkle tree against the published RFC 6962 / RFC 9162 known answers (test/audit/fixtures),
 * and its proofs against a verifier written here, separately, from the RFC's text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  CompactTree,
  consistencyProof,
  EMPTY_ROOT,
  inclusionPath,
  leafHash,
  nodeHash,
  subtreeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../src/telemetry/decision-log/merkle.js';
import { rfcVerifyInclusion } from './rfc9162-verifier.js';

interface Vectors {
  hasher: { kind: string; inputHex?: string; leftHex?: string; rightHex?: string; want: string }[];
  leafInputsHex: string[];
  nodeHashes: string[][];
  rootsBySize: Record<string, string>;
  inclusionProofs: { leafIndex: number; treeSize: number; path: string[] }[];
  consistencyProofs: { first: number; second: number; path: string[] }[];
  probes: {
    inclusion: { desc: string; wantErr: boolean; leafIndex: number; treeSize: number; leafHash: string; root: string; path: string[] | null }[];
    consistency: { desc: string; wantErr: boolean; size1: number; size2: number; root1: string; root2: string; path: string[] | null }[];
  };
}

const V = JSON.parse(readFileSync(new URL('./fixtures/rfc9162-vectors.json', import.meta.url), 'utf8')) as Vectors;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const buf = (h: string): Buffer => Buffer.from(h, 'hex');
const leaves = V.leafInputsHex.map((h) => leafHash(buf(h)));

describe('hashing (RFC 9162 §2.1.1)', () => {
  test('the hasher vectors: empty tree, leaf and node hashes', () => {
    for (const v of V.hasher) {
      if (v.kind === 'emptyRoot') expect(hex(EMPTY_ROOT)).toBe(v.want);
      else if (v.kind === 'leaf') expect(hex(leafHash(buf(v.inputHex!)))).toBe(v.want);
      else expect(hex(nodeHash(buf(v.leftHex!), buf(v.rightHex!)))).toBe(v.want);
    }
    expect(V.hasher.map((v) => v.kind).sort()).toEqual(['emptyRoot', 'leaf', 'leaf', 'node']);
  });

  test('a string entry hashes as its UTF-8 bytes', () => {
    expect(hex(leafHash('L123456'))).toBe(V.hasher.find((v) => v.inputHex === '4c313233343536')!.want);
    expect(leafHash('é').equals(leafHash(Buffer.from('é', 'utf8')))).toBe(true);
  });

  test('the leaf and node hashes of the 8-leaf tree', () => {
    expect(leaves.map(hex)).toEqual(V.nodeHashes[0]);
    for (let level = 1; level < V.nodeHashes.length; level++) {
      const width = 2 ** level;
      V.nodeHashes[level]!.forEach((want, i) => expect(hex(subtreeHash(leaves, i * width, (i + 1) * width))).toBe(want));
    }
  });

  test('the root of every size from 0 to 8, recursively and incrementally', () => {
    const tree = new CompactTree();
    expect(hex(tree.root())).toBe(V.rootsBySize['0']);
    for (let n = 1; n <= 8; n++) {
      tree.append(leaves[n - 1]!);
      expect(hex(subtreeHash(leaves, 0, n))).toBe(V.rootsBySize[String(n)]);
      expect(hex(tree.root())).toBe(V.rootsBySize[String(n)]);
      const resumed = CompactTree.fromFrontier(n, tree.frontier())!;
      expect(hex(resumed.root())).toBe(V.rootsBySize[String(n)]);
    }
    expect(CompactTree.fromFrontier(3, [leaves[0]!])).toBeUndefined();
  });
});

describe('inclusion proofs (RFC 9162 §2.1.3)', () => {
  test('PATH matches the published paths', () => {
    for (const p of V.inclusionProofs) expect(inclusionPath(leaves, p.leafIndex, p.treeSize).map(hex)).toEqual(p.path);
  });

  test('every path of every tree up to 8 leaves verifies, with ours and with the RFC text written out here', () => {
    let checked = 0;
    for (let n = 1; n <= 8; n++) {
      const root = buf(V.rootsBySize[String(n)]!);
      for (let m = 0; m < n; m++) {
        const path = inclusionPath(leaves, m, n);
        expect(verifyInclusion(leaves[m]!, m, n, path, root)).toBe(true);
        expect(rfcVerifyInclusion(BigInt(m), BigInt(n), leaves[m]!, path, root)).toBe(true);
        // Another leaf at the same place does not.
        expect(rfcVerifyInclusion(BigInt(m), BigInt(n), leaves[(m + 1) % 8]!, path, root)).toBe(false);
        checked++;
      }
    }
    expect(checked).toBe(36);
  });

  test('the published probes: each verifies or fails as expected', () => {
    for (const p of V.probes.inclusion) {
      const path = (p.path ?? []).map(buf);
      expect({ desc: p.desc, ok: verifyInclusion(buf(p.leafHash), p.leafIndex, p.treeSize, path, buf(p.root)) }).toEqual({ desc: p.desc, ok: !p.wantErr });
    }
    expect(V.probes.inclusion.filter((p) => p.wantErr).length).toBeGreaterThan(50);
  });
});

describe('consistency proofs (RFC 9162 §2.1.4)', () => {
  test('PROOF matches the published proofs', () => {
    for (const p of V.consistencyProofs) expect(consistencyProof(leaves, p.first, p.second).map(hex)).toEqual(p.path);
  });

  test('every pair of sizes from 1 to 8 is consistent; a changed root is not; nothing is proven from the empty tree', () => {
    for (let a = 0; a <= 8; a++) {
      for (let b = a; b <= 8; b++) {
        const proof = consistencyProof(leaves, a, b);
        const ra = buf(V.rootsBySize[String(a)]!);
        const rb = buf(V.rootsBySize[String(b)]!);
        expect(verifyConsistency(a, b, proof, ra, rb)).toBe(a > 0);
        if (a > 0 && a < b) expect(verifyConsistency(a, b, proof, ra, buf(V.rootsBySize[String(b - 1)]!))).toBe(false);
      }
    }
  });

  test('the published probes: each verifies or fails as expected', () => {
    for (const p of V.probes.consistency) {
      const path = (p.path ?? []).map(buf);
      expect({ desc: p.desc, ok: verifyConsistency(p.size1, p.size2, path, buf(p.root1), buf(p.root2)) }).toEqual({ desc: p.desc, ok: !p.wantErr });
    }
  });
});
