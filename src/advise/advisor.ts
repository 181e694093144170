/**
 * The advisor: folds observed calls, one at a time and in bounded space per agent, purpose, tool
 * and argument, into the least-privilege grant that would have allowed every observed allowed
 * call, and reports what the grants actually used allowed beyond that.
 *
 * Only calls the guard allowed (`allow`, or `error`: allowed, then the tool threw) shape the
 * grant. A shadow-mode call the guard would have denied ran anyway; it is counted in the report
 * but never widens the advice.
 */
import type { ArgConstraint } from '../capability/constraints.js';
import type { RetrievalBound, ToolGrant } from '../capability/claims.js';
import { describeConstraint } from '../capability/subsumption.js';
import { durationSeconds, type Duration } from '../util/time.js';
import { ArgFold, type GrantedValues } from './arg-fold.js';
import { deriveConstraint } from './derive.js';
import type { ObservedCall } from './observed-call.js';

/** A tool grant as grant files write it. */
export type AdvisedToolGrant = ToolGrant;
export type { RetrievalBound };

/** A grant spec: what `tessera grant` reads and `authority.grant()` takes. */
export interface GrantSpec {
  issuer?: string;
  agent?: string;
  audience?: string;
  intent?: { id: string; purpose: string };
  ttl?: Duration;
  tools: Record<string, AdvisedToolGrant>;
}

export interface AdviseOptions {
  /**
   * The grants the calls were made under. Each applies to the calls of its `agent` and intent
   * purpose (either may be left out to match any); the advice is never wider than it.
   */
  grants?: readonly GrantSpec[];
  /** Headroom on counts, task lengths and retrieval volumes: 0.5 (the default) advises 1.5x use. */
  margin?: number;
  /** Headroom on number ranges, as a fraction of the larger bound's magnitude; default 0 (the range seen). */
  numberMargin?: number;
  /** Shortest ttl advised, seconds; default 60. */
  minTtlSec?: number;
  /** Audience of the advised grants when the matching grant names none. */
  audience?: string;
}

export interface ArgUse {
  readonly arg: string;
  readonly granted: ArgConstraint | undefined;
  readonly advised: ArgConstraint | undefined;
  /** What the calls passed, in words: "2 hosts: a.example.com, b.example.com". */
  readonly used: string;
}

export interface ToolUse {
  readonly tool: string;
  /** Allowed calls. */
  readonly calls: number;
  /** Allowed calls whose span carried no evidence: their arguments are left as granted. */
  readonly withoutEvidence: number;
  /** The most allowed calls of this tool within one intent. */
  readonly maxCallsPerIntent: number;
  readonly grantedMaxCalls: number | undefined;
  readonly advisedMaxCalls: number | undefined;
  readonly args: readonly ArgUse[];
  readonly retrieval: RetrievalUse | undefined;
}

export interface RetrievalUse {
  /** Calls that reported a retrieval. */
  readonly calls: number;
  readonly records: number;
  readonly bytes: number;
  readonly maxRecordsPerCall: number;
  readonly maxBytesPerCall: number;
  readonly maxRecordsPerIntent: number;
  readonly maxBytesPerIntent: number;
  readonly labels: readonly string[];
  readonly granted: RetrievalBound | undefined;
  readonly advised: RetrievalBound | undefined;
}

export interface GroupAdvice {
  readonly agent: string;
  /** The intent purpose from the evidence; undefined for intents none of whose calls carried any. */
  readonly purpose: string | undefined;
  readonly intents: number;
  readonly allowed: number;
  /** Calls denied in enforce mode (the tool did not run). */
  readonly denied: number;
  /** Shadow-mode calls the guard would have denied (the tool ran), by denial code. */
  readonly wouldDeny: Readonly<Record<string, number>>;
  /** The grant the calls were matched to, if one was given. */
  readonly granted: GrantSpec | undefined;
  /** The advised grant; undefined when no call was allowed. */
  readonly grant: GrantSpec | undefined;
  readonly tools: readonly ToolUse[];
  /** Tools the grant allowed that no call used. */
  readonly unusedTools: readonly string[];
  /** Tools called (and allowed) that the grant does not name: left out of the advice. */
  readonly outsideGrant: readonly string[];
  /** Longest time from an intent's first call to its last, ms. */
  readonly longestTaskMs: number;
  readonly grantedTtlSec: number | undefined;
  readonly advisedTtlSec: number | undefined;
}

export interface Advice {
  readonly groups: readonly GroupAdvice[];
  readonly calls: number;
  /** Calls whose span carried evidence. */
  readonly withEvidence: number;
  /** Calls with an evidence attribute this reader could not read (left as if without evidence). */
  readonly malformedEvidence: number;
}

export interface Advisor {
  add(call: ObservedCall): void;
  finish(): Advice;
}

interface ToolFold {
  calls: number;
  withoutEvidence: number;
  readonly args: Map<string, ArgFold>;
  retrievalCalls: number;
  records: number;
  bytes: number;
  maxRecords: number;
  maxBytes: number;
  labelSet: Set<string>;
}

interface GroupFold {
  readonly agent: string;
  readonly purpose: string | undefined;
  readonly granted: GrantSpec | undefined;
  readonly tools: Map<string, ToolFold>;
}

interface IntentFold {
  readonly agent: string;
  purpose: string | undefined;
  first: number;
  last: number;
  allowed: number;
  denied: number;
  /** Kept small: one intent per task, and a fold may hold many; the rarer maps start undefined. */
  wouldDeny: Map<string, number> | undefined;
  readonly calls: Map<string, number>;
  retrieved: Map<string, { records: number; bytes: number }> | undefined;
  /** Tools called without evidence, whose group is known only once the intent's purpose is. */
  withoutEvidence: Map<string, number> | undefined;
}

/** An unambiguous key for two untrusted names (the first's length keeps them apart). */
const key = (a: string, b: string | undefined): string => (b === undefined ? `${a.length}:${a}` : `${a.length}:${a}\u0000${b}`);

function grantedValues(c: ArgConstraint | undefined): GrantedValues | undefined {
  if (c === undefined) return undefined;
  if (c.in !== undefined) return { values: c.in };
  if (c.eq !== undefined) return { values: [c.eq] };
  return undefined;
}

const withMargin = (n: number, margin: number): number => Math.ceil(n * (1 + margin));

export function createAdvisor(options: AdviseOptions = {}): Advisor {
  const margin = options.margin ?? 0.5;
  const numberMargin = options.numberMargin ?? 0;
  const minTtlSec = options.minTtlSec ?? 60;
  if (!(margin >= 0 && margin <= 100)) throw new RangeError('advise: margin must be a number from 0 to 100');
  if (!(numberMargin >= 0 && numberMargin <= 100)) throw new RangeError('advise: numberMargin must be a number from 0 to 100');
  if (!(Number.isInteger(minTtlSec) && minTtlSec >= 1)) throw new RangeError('advise: minTtlSec must be a positive integer');
  const grants = options.grants ?? [];

  const grantFor = (agent: string, purpose: string | undefined): GrantSpec | undefined =>
    grants.find((g) => (g.agent === undefined || g.agent === agent) && (g.intent === undefined || g.intent.purpose === purpose));

  const groups = new Map<string, GroupFold>();
  const intents = new Map<string, IntentFold>();
  let calls = 0;
  let withEvidence = 0;
  let malformed = 0;

  const groupOf = (agent: string, purpose: string | undefined): GroupFold => {
    const k = key(agent, purpose);
    let g = groups.get(k);
    if (g === undefined) {
      g = { agent, purpose, granted: grantFor(agent, purpose), tools: new Map() };
      groups.set(k, g);
    }
    return g;
  };

  const toolOf = (g: GroupFold, tool: string): ToolFold => {
    let t = g.tools.get(tool);
    if (t === undefined) {
      t = { calls: 0, withoutEvidence: 0, args: new Map(), retrievalCalls: 0, records: 0, bytes: 0, maxRecords: 0, maxBytes: 0, labelSet: new Set() };
      g.tools.set(tool, t);
    }
    return t;
  };

  return {
    add(call) {
      calls++;
      if (call.malformedEvidence) malformed++;
      if (call.evidence !== undefined) withEvidence++;
      const ik = key(call.agent, call.intentId);
      let intent = intents.get(ik);
      if (intent === undefined) {
        intent = {
          agent: call.agent,
          purpose: undefined,
          first: call.startMs,
          last: call.startMs,
          allowed: 0,
          denied: 0,
          wouldDeny: undefined,
          calls: new Map(),
          retrieved: undefined,
          withoutEvidence: undefined,
        };
        intents.set(ik, intent);
      }
      intent.purpose ??= call.evidence?.purpose;
      if (call.decision === 'deny') {
        if (call.enforced) intent.denied++;
        else {
          const code = call.code ?? 'unknown';
          intent.wouldDeny ??= new Map();
          intent.wouldDeny.set(code, (intent.wouldDeny.get(code) ?? 0) + 1);
        }
        return;
      }
      intent.allowed++;
      if (Number.isFinite(call.startMs)) {
        intent.first = Math.min(intent.first, call.startMs);
        intent.last = Math.max(intent.last, call.startMs);
      }
      intent.calls.set(call.tool, (intent.calls.get(call.tool) ?? 0) + 1);
      let records = 0;
      let bytes = 0;
      for (const r of call.retrievals) {
        records += r.records;
        bytes += r.bytes;
      }
      if (call.retrievals.length > 0) {
        intent.retrieved ??= new Map();
        const sum = intent.retrieved.get(call.tool) ?? { records: 0, bytes: 0 };
        sum.records += records;
        sum.bytes += bytes;
        intent.retrieved.set(call.tool, sum);
      }
      if (call.evidence === undefined) {
        intent.withoutEvidence ??= new Map();
        intent.withoutEvidence.set(call.tool, (intent.withoutEvidence.get(call.tool) ?? 0) + 1);
        return;
      }
      const group = groupOf(call.agent, call.evidence.purpose);
      const t = toolOf(group, call.tool);
      t.calls++;
      if (call.retrievals.length > 0) {
        t.retrievalCalls++;
        t.records += records;
        t.bytes += bytes;
        t.maxRecords = Math.max(t.maxRecords, records);
        t.maxBytes = Math.max(t.maxBytes, bytes);
        for (const r of call.retrievals) for (const l of r.labels) if (t.labelSet.size < 1000) t.labelSet.add(l);
      }
      const grantedArgs = group.granted?.tools[call.tool]?.args;
      for (const [name, shape] of Object.entries(call.evidence.args)) {
        let fold = t.args.get(name);
        if (fold === undefined) {
          const c = grantedArgs !== undefined && Object.hasOwn(grantedArgs, name) ? grantedArgs[name] : undefined;
          fold = new ArgFold(name, grantedValues(c));
          t.args.set(name, fold);
        }
        fold.add(shape, call.capabilityId);
      }
    },

    finish() {
      // Per group: intent-level figures (counts per intent, task length, cumulative retrieval).
      interface IntentSums {
        intents: number;
        allowed: number;
        denied: number;
        wouldDeny: Map<string, number>;
        longestMs: number;
        maxCalls: Map<string, number>;
        maxRecords: Map<string, number>;
        maxBytes: Map<string, number>;
      }
      const sums = new Map<GroupFold, IntentSums>();
      for (const intent of intents.values()) {
        const g = groupOf(intent.agent, intent.purpose);
        let s = sums.get(g);
        if (s === undefined) {
          s = { intents: 0, allowed: 0, denied: 0, wouldDeny: new Map(), longestMs: 0, maxCalls: new Map(), maxRecords: new Map(), maxBytes: new Map() };
          sums.set(g, s);
        }
        s.intents++;
        s.allowed += intent.allowed;
        s.denied += intent.denied;
        for (const [code, n] of intent.wouldDeny ?? []) s.wouldDeny.set(code, (s.wouldDeny.get(code) ?? 0) + n);
        if (intent.allowed > 0) s.longestMs = Math.max(s.longestMs, intent.last - intent.first);
        for (const [tool, n] of intent.calls) s.maxCalls.set(tool, Math.max(s.maxCalls.get(tool) ?? 0, n));
        for (const [tool, r] of intent.retrieved ?? []) {
          s.maxRecords.set(tool, Math.max(s.maxRecords.get(tool) ?? 0, r.records));
          s.maxBytes.set(tool, Math.max(s.maxBytes.get(tool) ?? 0, r.bytes));
        }
        for (const [tool, n] of intent.withoutEvidence ?? []) {
          const t = toolOf(g, tool);
          t.calls += n;
          t.withoutEvidence += n;
        }
      }
      const out: GroupAdvice[] = [];
      for (const g of groups.values()) {
        const s = sums.get(g);
        if (s === undefined) continue;
        out.push(adviseGroup(g, s, { margin, numberMargin, minTtlSec, audience: options.audience }));
      }
      out.sort((a, b) => a.agent.localeCompare(b.agent) || (a.purpose ?? '').localeCompare(b.purpose ?? ''));
      return { groups: out, calls, withEvidence, malformedEvidence: malformed };
    },
  };

  function adviseGroup(
    g: GroupFold,
    s: { intents: number; allowed: number; denied: number; wouldDeny: Map<string, number>; longestMs: number; maxCalls: Map<string, number>; maxRecords: Map<string, number>; maxBytes: Map<string, number> },
    o: { margin: number; numberMargin: number; minTtlSec: number; audience: string | undefined },
  ): GroupAdvice {
    const granted = g.granted;
    const tools: ToolUse[] = [];
    const advisedTools: Record<string, AdvisedToolGrant> = Object.create(null) as Record<string, AdvisedToolGrant>;
    const outsideGrant: string[] = [];
    for (const [name, t] of [...g.tools].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (t.calls === 0) continue;
      const grantedTool = granted === undefined ? undefined : Object.hasOwn(granted.tools, name) ? granted.tools[name] : null;
      if (grantedTool === null) {
        outsideGrant.push(name);
        continue;
      }
      const perIntent = s.maxCalls.get(name) ?? t.calls;
      let maxCalls = Math.min(1_000_000, Math.max(1, withMargin(perIntent, o.margin)));
      if (grantedTool?.maxCalls !== undefined) maxCalls = Math.min(maxCalls, grantedTool.maxCalls);
      const args: ArgUse[] = [];
      const advisedArgs: Record<string, ArgConstraint> = Object.create(null) as Record<string, ArgConstraint>;
      const grantedArgs = grantedTool?.args ?? {};
      const names = new Set([...t.args.keys(), ...Object.keys(grantedArgs)]);
      for (const arg of [...names].sort()) {
        const fold = t.args.get(arg);
        const grantedC = Object.hasOwn(grantedArgs, arg) ? grantedArgs[arg] : undefined;
        // Calls without evidence may have passed anything: their arguments stay as granted.
        const advised =
          fold === undefined || t.withoutEvidence > 0
            ? grantedC
            : deriveConstraint(fold, grantedC, fold.present < t.calls, { numberMargin: o.numberMargin });
        if (advised !== undefined) advisedArgs[arg] = advised;
        args.push({ arg, granted: grantedC, advised, used: fold === undefined ? 'never passed' : describeUse(fold) });
      }
      const retrieval = adviseRetrieval(t, s.maxRecords.get(name) ?? 0, s.maxBytes.get(name) ?? 0, grantedTool?.retrieval, o.margin);
      const grant: AdvisedToolGrant = {};
      if (Object.keys(advisedArgs).length > 0) grant.args = advisedArgs;
      grant.maxCalls = maxCalls;
      if (retrieval?.advised !== undefined) grant.retrieval = retrieval.advised;
      advisedTools[name] = grant;
      tools.push({
        tool: name,
        calls: t.calls,
        withoutEvidence: t.withoutEvidence,
        maxCallsPerIntent: perIntent,
        grantedMaxCalls: grantedTool?.maxCalls,
        advisedMaxCalls: maxCalls,
        args,
        retrieval,
      });
    }
    const unusedTools = granted === undefined ? [] : Object.keys(granted.tools).filter((t) => !advisedTools[t]).sort();
    const grantedTtlSec = granted?.ttl === undefined ? undefined : durationSeconds(granted.ttl, 'grant ttl');
    const hasTools = Object.keys(advisedTools).length > 0;
    let ttlSec: number | undefined;
    let grant: GrantSpec | undefined;
    if (hasTools) {
      ttlSec = Math.max(o.minTtlSec, Math.ceil((s.longestMs / 1000) * (1 + o.margin)));
      if (grantedTtlSec !== undefined) ttlSec = Math.min(ttlSec, grantedTtlSec);
      const audience = granted?.audience ?? o.audience;
      grant = {
        ...(granted?.issuer === undefined ? {} : { issuer: granted.issuer }),
        ...(g.agent.startsWith('(') ? {} : { agent: g.agent }),
        ...(audience === undefined ? {} : { audience }),
        ...(g.purpose === undefined ? {} : { intent: { id: granted?.intent?.id ?? 'next-task', purpose: g.purpose } }),
        ttl: ttlSec,
        tools: { ...advisedTools },
      };
    }
    return {
      agent: g.agent,
      purpose: g.purpose,
      intents: s.intents,
      allowed: s.allowed,
      denied: s.denied,
      wouldDeny: Object.fromEntries([...s.wouldDeny].sort()),
      granted,
      grant,
      tools,
      unusedTools,
      outsideGrant,
      longestTaskMs: s.longestMs,
      grantedTtlSec,
      advisedTtlSec: ttlSec,
    };
  }
}

function adviseRetrieval(t: ToolFold, perIntentRecords: number, perIntentBytes: number, granted: RetrievalBound | undefined, margin: number): RetrievalUse | undefined {
  if (t.retrievalCalls === 0) return granted === undefined ? undefined : { ...emptyUse(), granted, advised: granted };
  const min = (a: number, b: number | undefined): number => (b === undefined ? a : Math.min(a, b));
  const labels = [...t.labelSet].sort();
  const advised: RetrievalBound = {
    maxRecords: min(Math.max(1, withMargin(t.maxRecords, margin)), granted?.maxRecords),
    maxBytes: min(Math.max(1, withMargin(t.maxBytes, margin)), granted?.maxBytes),
    perIntent: {
      maxRecords: min(Math.max(1, withMargin(perIntentRecords, margin)), granted?.perIntent?.maxRecords),
      maxBytes: min(Math.max(1, withMargin(perIntentBytes, margin)), granted?.perIntent?.maxBytes),
    },
  };
  // A label list the grant grammar can hold (at most 256 labels); a longer one is left out.
  if (labels.length > 0 && labels.length <= 256) {
    advised.labels = granted?.labels === undefined ? labels : labels.filter((l) => granted.labels!.includes(l));
  } else if (granted?.labels !== undefined) {
    advised.labels = granted.labels;
  }
  return {
    calls: t.retrievalCalls,
    records: t.records,
    bytes: t.bytes,
    maxRecordsPerCall: t.maxRecords,
    maxBytesPerCall: t.maxBytes,
    maxRecordsPerIntent: perIntentRecords,
    maxBytesPerIntent: perIntentBytes,
    labels,
    granted,
    advised,
  };
}

const emptyUse = () => ({ calls: 0, records: 0, bytes: 0, maxRecordsPerCall: 0, maxBytesPerCall: 0, maxRecordsPerIntent: 0, maxBytesPerIntent: 0, labels: [] as string[] });

const listOf = (xs: Iterable<string>, n = 5): string => {
  const all = [...xs].sort();
  return `${all.slice(0, n).join(', ')}${all.length > n ? `, … ${all.length - n} more` : ''}`;
};

/** The values an argument took, in words, for the report. */
export function describeUse(f: ArgFold): string {
  const parts: string[] = [];
  for (const kind of [...f.kinds].sort()) {
    switch (kind) {
      case 'url':
        parts.push(f.hosts.overflow ? 'URLs on many hosts' : `URLs on ${f.hosts.values.size} host(s): ${listOf(f.hosts.values)}`);
        break;
      case 'email':
        parts.push(
          `email addresses, at most ${f.distinctPerCapability} distinct in one capability, ${f.domains.overflow ? 'many domains' : `domain(s) ${listOf(f.domains.values)}`}`,
        );
        break;
      case 'path':
        parts.push(f.relative ? 'paths, some relative' : `paths under ${f.dir ?? '?'}`);
        break;
      case 'string':
        parts.push(`strings of at most ${f.maxLength} characters, at most ${f.distinctPerCapability} distinct in one capability`);
        break;
      case 'number':
        parts.push(f.minNumber === f.maxNumber ? `the number ${f.minNumber}` : `numbers from ${f.minNumber} to ${f.maxNumber}`);
        break;
      case 'boolean':
        parts.push(`${[...f.booleans].sort().join(' and ')}`);
        break;
      case 'array':
        parts.push(`arrays of at most ${f.maxLength} items`);
        break;
      case 'object':
        parts.push('objects');
        break;
    }
  }
  return `${f.present} call(s): ${parts.join('; ')}`;
}

/** One constraint in words, for reports ("no constraint" when undefined). */
export const describeArg = (c: ArgConstraint | undefined): string => describeConstraint(c);
