/**
 * Offline verification of a decision log against its signed tree heads, and the proofs a third
 * party checks: inclusion of one record (RFC 9162 §2.1.3) and consistency of two heads (§2.1.4).
 *
 * Records are checked between consecutive signed heads: the records since the previous head must
 * hash, in file order, to the next head's root. When they do not, the sequence numbers say how
 * (a number missing, a number twice or out of its range, numbers out of order; otherwise a record
 * was changed) and verification resumes from the head's signed frontier, so one bad record is
 * placed between two heads and does not hide the rest of the log.
 */
import type { JSONWebKeySet } from 'jose';
import { CompactTree, consistencyProof, type Hash, inclusionPath, leafHash, subtreeHash } from './merkle.js';
import { type SignedTreeHead, TreeHeadError, treeHeadVerifier } from './tree-head.js';

export type FindingKind = 'changed' | 'removed' | 'inserted' | 'reordered' | 'truncated' | 'bad_head' | 'malformed' | 'gap' | 'unsigned';

/** Kinds that mean the log is not what its key signed. `gap` and `unsigned` mean it is incomplete. */
export const TAMPERING: ReadonlySet<FindingKind> = new Set(['changed', 'removed', 'inserted', 'reordered', 'truncated', 'bad_head', 'malformed']);

export interface Finding {
  readonly kind: FindingKind;
  readonly message: string;
  /** The first and last sequence numbers concerned, when known. */
  readonly from?: number;
  readonly to?: number;
  /** `file:line` of the line concerned, when one line is. */
  readonly at?: string;
}

export interface LogVerification {
  /** The log's id, from its signed tree heads. */
  readonly logId: string | undefined;
  /** What was read, e.g. the file prefix. */
  readonly source: string;
  /** Records (and lost lines) read. */
  readonly records: number;
  /** Tree heads whose signature verified. */
  readonly heads: number;
  readonly latestHead: SignedTreeHead | undefined;
  readonly findings: readonly Finding[];
  /** No finding of tampering: every record covered by a signed head is what the log signed. */
  readonly intact: boolean;
  /** Intact, with no gap and no record outside a signed head. */
  readonly complete: boolean;
}

/** One file's text (a segment of a log), named for findings. */
export interface LogSegment {
  readonly name: string;
  readonly text: string;
}

export interface VerifyLogOptions {
  /** The log's published key set (`DecisionLog.jwks()`). */
  readonly jwks: JSONWebKeySet;
  /** Signed tree heads (compact JWS) held elsewhere, e.g. by a witness: a log shorter than one is truncated. */
  readonly heads?: readonly string[];
  readonly source?: string;
}

interface Entry {
  readonly seq: number;
  readonly leaf: Hash;
  readonly at: string;
  readonly lost: boolean;
}

interface Scan {
  readonly logId: string | undefined;
  readonly leaves: Hash[];
  readonly heads: SignedTreeHead[];
  readonly findings: Finding[];
  /** Line text of each record by sequence number, for records in a verified span. */
  readonly lines: Map<number, string>;
  readonly verifiedSize: number;
}

const RECORD = /^\{"t":"([a-z][a-z0-9_]{0,31})","seq":(\d{1,15}),/;

const ranges = (seqs: readonly number[]): [number, number][] => {
  const out: [number, number][] = [];
  for (const s of [...seqs].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] + 1 === s) last[1] = s;
    else out.push([s, s]);
  }
  return out;
};

const span = (a: number, b: number): string => (a === b ? `record ${a}` : `records ${a}-${b}`);

async function scan(segments: readonly LogSegment[], options: VerifyLogOptions): Promise<Scan> {
  const verifyHead = treeHeadVerifier(options.jwks);
  const findings: Finding[] = [];
  const leaves: Hash[] = [];
  const heads: SignedTreeHead[] = [];
  const lines = new Map<number, string>();
  const lost = new Map<number, string>();
  const gaps: { sink: string; from: number; to: number; count: number; reason: string; seq: number }[] = [];
  let logId: string | undefined;
  let tree = new CompactTree();
  let base = 0;
  let seg: Entry[] = [];
  let segLines: { seq: number; line: string; kind: string }[] = [];

  const closeSpan = (head: SignedTreeHead, at: string): void => {
    const want = head.size - base;
    let ok = false;
    if (seg.length === want) {
      const t = CompactTree.fromFrontier(tree.size, tree.frontier())!;
      for (const e of seg) t.append(e.leaf);
      ok = t.root().toString('hex') === head.root;
    }
    if (ok) {
      for (const r of segLines) {
        lines.set(r.seq, r.line);
        if (r.kind === 'gap') {
          try {
            const g = JSON.parse(r.line) as { sink?: unknown; from?: unknown; to?: unknown; count?: unknown; reason?: unknown };
            if (Number.isSafeInteger(g.from) && Number.isSafeInteger(g.to)) {
              gaps.push({ sink: String(g.sink), from: g.from as number, to: g.to as number, count: Number(g.count), reason: String(g.reason), seq: r.seq });
            }
          } catch {
            // A gap record that does not parse names nothing; its lost lines are reported as removed.
          }
        }
      }
    } else {
      diagnose(seg, base, head.size, `the tree head of size ${head.size} (${at})`, head);
    }
    const resumed = CompactTree.fromFrontier(head.size, head.frontier.map((h) => Buffer.from(h, 'hex')));
    if (resumed === undefined || resumed.root().toString('hex') !== head.root) {
      findings.push({ kind: 'bad_head', message: `the tree head of size ${head.size} (${at}) has a frontier that does not fold to its root`, at });
      return;
    }
    tree = resumed;
    base = head.size;
    seg = [];
    segLines = [];
  };

  /** Says how the records between two heads differ from what was signed. */
  const diagnose = (entries: readonly Entry[], lo: number, hi: number | undefined, against: string, head: SignedTreeHead | undefined): void => {
    const seen = new Set<number>();
    let structural = false;
    for (const e of entries) {
      if (e.seq < lo || (hi !== undefined && e.seq >= hi) || seen.has(e.seq)) {
        structural = true;
        findings.push({
          kind: 'inserted',
          message: `${e.at}: record ${e.seq} does not belong here (${seen.has(e.seq) ? 'its number appears twice' : `outside ${hi === undefined ? `the records after ${lo - 1}` : `${lo}-${hi - 1}`}`}), checked against ${against}`,
          from: e.seq,
          to: e.seq,
          at: e.at,
        });
      }
      seen.add(e.seq);
    }
    const top = hi ?? (entries.length === 0 ? lo : Math.max(lo, ...entries.map((e) => e.seq)) + 1);
    const missing: number[] = [];
    for (let s = lo; s < top; s++) if (!seen.has(s)) missing.push(s);
    for (const [a, b] of ranges(missing)) {
      structural = true;
      findings.push({ kind: 'removed', message: `${span(a, b)} ${a === b ? 'is' : 'are'} missing, checked against ${against}`, from: a, to: b });
    }
    if (structural) return;
    const outOfOrder = entries.findIndex((e, i) => e.seq !== lo + i);
    if (outOfOrder !== -1) {
      const e = entries[outOfOrder]!;
      let confirmed = '';
      if (head !== undefined) {
        const t = CompactTree.fromFrontier(tree.size, tree.frontier())!;
        for (const x of [...entries].sort((a, b) => a.seq - b.seq)) t.append(x.leaf);
        confirmed = t.root().toString('hex') === head.root ? '; in order they match the signed root' : '';
      }
      findings.push({
        kind: 'reordered',
        message: `${e.at}: record ${e.seq} stands where record ${lo + outOfOrder} was signed, checked against ${against}${confirmed}`,
        from: Math.min(e.seq, lo + outOfOrder),
        to: Math.max(e.seq, lo + outOfOrder),
        at: e.at,
      });
      return;
    }
    if (hi !== undefined) {
      findings.push({
        kind: 'changed',
        message: `${span(lo, hi - 1)}: at least one was changed after it was signed; they do not hash to ${against}`,
        from: lo,
        to: hi - 1,
      });
    }
  };

  for (const segment of segments) {
    const text = segment.text;
    let start = 0;
    let lineNo = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      lineNo++;
      const at = `${segment.name}:${lineNo}`;
      if (end === -1) {
        findings.push({ kind: 'truncated', message: `${at}: the file ends in the middle of a line`, at });
        break;
      }
      const line = text.slice(start, end);
      start = end + 1;
      if (line.length === 0) continue;
      const m = RECORD.exec(line);
      if (m !== null && m[1] !== 'head' && m[1] !== 'lost') {
        const seq = Number(m[2]);
        const leaf = leafHash(line);
        leaves.push(leaf);
        seg.push({ seq, leaf, at, lost: false });
        segLines.push({ seq, line, kind: m[1]! });
        continue;
      }
      let parsed: { t?: unknown; jws?: unknown; seq?: unknown; leaf?: unknown };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        parsed = {};
      }
      if (parsed.t === 'lost' && Number.isSafeInteger(parsed.seq) && typeof parsed.leaf === 'string' && /^[0-9a-f]{64}$/.test(parsed.leaf)) {
        const seq = parsed.seq as number;
        const leaf = Buffer.from(parsed.leaf, 'hex');
        leaves.push(leaf);
        lost.set(seq, at);
        seg.push({ seq, leaf, at, lost: true });
        continue;
      }
      if (parsed.t === 'head' && typeof parsed.jws === 'string') {
        let head: SignedTreeHead;
        try {
          head = await verifyHead(parsed.jws);
        } catch (err) {
          findings.push({ kind: 'bad_head', message: `${at}: ${err instanceof TreeHeadError ? err.message : 'the tree head does not verify'}`, at });
          continue;
        }
        if (logId === undefined) logId = head.log;
        if (head.log !== logId) {
          findings.push({ kind: 'bad_head', message: `${at}: a tree head of another log ("${head.log}") is in log "${logId}"`, at });
          continue;
        }
        if (head.size < base) {
          findings.push({ kind: 'bad_head', message: `${at}: the tree head of size ${head.size} comes after one of size ${base}`, at });
          continue;
        }
        heads.push(head);
        closeSpan(head, at);
        continue;
      }
      findings.push({ kind: 'malformed', message: `${at}: not a decision-log line`, at });
    }
  }

  if (seg.length > 0) {
    diagnose(seg, base, undefined, 'the sequence that follows the last signed tree head', undefined);
    const seqs = seg.map((e) => e.seq);
    findings.push({
      kind: 'unsigned',
      message: `${seg.length} record(s) after the last signed tree head (${span(Math.min(...seqs), Math.max(...seqs))}) are covered by no signature yet`,
      from: Math.min(...seqs),
      to: Math.max(...seqs),
    });
  }

  for (const g of gaps) {
    const here: number[] = [];
    for (let s = g.from; s <= g.to; s++) if (lost.has(s)) here.push(s);
    for (const s of here) lost.delete(s);
    if (here.length > 0) {
      findings.push({
        kind: 'gap',
        message: `${span(g.from, g.to)} (${g.count}) were not written by the "${g.sink}" sink (${g.reason}); the log signed a gap record for them (record ${g.seq})`,
        from: g.from,
        to: g.to,
      });
    }
  }
  for (const [seq, at] of lost) {
    findings.push({ kind: 'removed', message: `${at}: record ${seq} is replaced by a lost line that no signed gap record names`, from: seq, to: seq, at });
  }

  for (const jws of options.heads ?? []) {
    let head: SignedTreeHead;
    try {
      head = await verifyHead(jws);
    } catch (err) {
      findings.push({ kind: 'bad_head', message: `a tree head given to check against: ${err instanceof TreeHeadError ? err.message : 'does not verify'}` });
      continue;
    }
    if (logId !== undefined && head.log !== logId) continue;
    if (head.size > leaves.length) {
      findings.push({
        kind: 'truncated',
        message: `a tree head signed at ${new Date(head.time).toISOString()} covers ${head.size} records; this log holds ${leaves.length}`,
        from: leaves.length,
        to: head.size - 1,
      });
    } else if (subtreeHash(leaves, 0, head.size).toString('hex') !== head.root) {
      findings.push({ kind: 'changed', message: `the first ${head.size} records do not hash to the tree head signed at ${new Date(head.time).toISOString()}`, from: 0, to: head.size - 1 });
    }
  }

  return { logId, leaves, heads, findings, lines, verifiedSize: base };
}

/** Verifies one log (its segments in order) against its signed tree heads. */
export async function verifyDecisionLog(segments: readonly LogSegment[], options: VerifyLogOptions): Promise<LogVerification> {
  const s = await scan(segments, options);
  const intact = !s.findings.some((f) => TAMPERING.has(f.kind));
  return {
    logId: s.logId,
    source: options.source ?? segments[0]?.name ?? '',
    records: s.leaves.length,
    heads: s.heads.length,
    latestHead: s.heads[s.heads.length - 1],
    findings: s.findings,
    intact,
    complete: intact && s.findings.length === 0,
  };
}

/** Everything a third party needs to check that one record is in the log: verify `treeHead` with the log's key, then the path (RFC 9162 §2.1.3.2). */
export interface InclusionProof {
  readonly log: string;
  readonly seq: number;
  /** The record's line, exactly as logged: its leaf hash is SHA-256(0x00 || record). */
  readonly record: string;
  readonly leafHash: string;
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly root: string;
  /** Hex hashes, the RFC's inclusion path. */
  readonly path: readonly string[];
  /** The signed tree head (compact JWS) whose root the path leads to. */
  readonly treeHead: string;
}

export interface ConsistencyProof {
  readonly log: string;
  readonly first: number;
  readonly second: number;
  readonly firstRoot: string;
  readonly secondRoot: string;
  readonly path: readonly string[];
  readonly firstHead: string;
  readonly secondHead: string;
}

/** Why no proof could be made. */
export class ProofUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProofUnavailableError';
  }
}

async function intactScan(segments: readonly LogSegment[], options: VerifyLogOptions): Promise<Scan & { logId: string }> {
  const s = await scan(segments, options);
  const bad = s.findings.find((f) => TAMPERING.has(f.kind));
  if (bad !== undefined) throw new ProofUnavailableError(`the log does not verify, so it proves nothing: ${bad.message}`);
  if (s.logId === undefined) throw new ProofUnavailableError('the log holds no signed tree head');
  return s as Scan & { logId: string };
}

/** An inclusion proof for the record of one call (by its call id), against the latest signed tree head. */
export async function proveCall(segments: readonly LogSegment[], callId: string, options: VerifyLogOptions): Promise<InclusionProof> {
  const s = await intactScan(segments, options);
  const needle = `"callId":${JSON.stringify(callId)}`;
  let seq: number | undefined;
  for (const [n, line] of s.lines) {
    if (!line.includes(needle)) continue;
    try {
      if ((JSON.parse(line) as { callId?: unknown }).callId === callId) {
        seq = n;
        break;
      }
    } catch {
      // A line that does not parse is not the record asked for.
    }
  }
  if (seq === undefined) throw new ProofUnavailableError(`no record of call "${callId.slice(0, 128)}" is covered by a signed tree head in this log`);
  const head = s.heads[s.heads.length - 1]!;
  return {
    log: s.logId,
    seq,
    record: s.lines.get(seq)!,
    leafHash: s.leaves[seq]!.toString('hex'),
    leafIndex: seq,
    treeSize: head.size,
    root: head.root,
    path: inclusionPath(s.leaves, seq, head.size).map((h) => h.toString('hex')),
    treeHead: head.jws,
  };
}

/** A consistency proof between two of the log's signed tree heads (default: the first and the latest). */
export async function proveConsistency(
  segments: readonly LogSegment[],
  sizes: { first?: number; second?: number },
  options: VerifyLogOptions,
): Promise<ConsistencyProof> {
  const s = await intactScan(segments, options);
  const find = (size: number | undefined, fallback: SignedTreeHead): SignedTreeHead => {
    if (size === undefined) return fallback;
    const h = s.heads.find((x) => x.size === size);
    if (h === undefined) throw new ProofUnavailableError(`the log has no signed tree head of size ${size}`);
    return h;
  };
  const a = find(sizes.first, s.heads[0]!);
  const b = find(sizes.second, s.heads[s.heads.length - 1]!);
  if (a.size > b.size) throw new ProofUnavailableError('the first tree head must not be larger than the second');
  return {
    log: s.logId,
    first: a.size,
    second: b.size,
    firstRoot: a.root,
    secondRoot: b.root,
    path: consistencyProof(s.leaves, a.size, b.size).map((h) => h.toString('hex')),
    firstHead: a.jws,
    secondHead: b.jws,
  };
}
