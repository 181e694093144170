/**
 * The decision log end to end: a real guard and authority append to it, the file sink writes
 * rotating JSONL, and verification names each way the files can be tampered with.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, createLocalJWKSet } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { guardTool } from '../../src/index.js';
import { createScriptedApprover } from '../../src/policy/scripted-approver.js';
import { isToolDeniedError } from '../../src/errors.js';
import {
  createDecisionLog,
  createFileSink,
  proveCall,
  proveConsistency,
  readDecisionLogFiles,
  verifyConsistency,
  verifyDecisionLog,
  type DecisionLog,
  type DecisionLogOptions,
  type LogSegment,
} from '../../src/telemetry/decision-log/index.js';
import { AGENT, setup } from '../support/fixtures.js';
import { rfcVerifyInclusion } from './rfc9162-verifier.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tessera-declog-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fileLog(dir: string, extra: Partial<DecisionLogOptions> = {}): DecisionLog {
  return createDecisionLog({ sinks: createFileSink({ dir }), checkpoint: { records: 4, intervalMs: 3_600_000 }, flushIntervalMs: 5, ...extra });
}

/** Ten calls through a real guard: allowed reads, out-of-scope reads, a spent limit. */
async function runCalls(log: DecisionLog) {
  const t = await setup({ decisionLog: log });
  const cap = await t.grant();
  const callIds: string[] = [];
  const outcomes: string[] = [];
  await t.guard.withCapability(cap, async () => {
    for (let i = 0; i < 10; i++) {
      const callId = `call-${i}`;
      callIds.push(callId);
      try {
        if (i % 3 === 2) await t.sendEmail({ to: 'dana@example.com', subject: 's', body: 'b' }, { callId });
        else await t.readTicket({ ticketId: i % 3 === 1 ? '9999' : '4711' }, { callId });
        outcomes.push('allow');
      } catch (err) {
        if (!isToolDeniedError(err)) throw err;
        outcomes.push(err.code);
      }
    }
  });
  return { ...t, cap, callIds, outcomes };
}

async function readOne(dir: string): Promise<LogSegment[]> {
  const logs = await readDecisionLogFiles([dir]);
  expect(logs).toHaveLength(1);
  return [...logs[0]!.segments];
}

const lines = (seg: LogSegment): string[] => seg.text.split('\n').slice(0, -1);
const withLines = (seg: LogSegment, ls: readonly string[]): LogSegment => ({ name: seg.name, text: `${ls.join('\n')}\n` });
const recordIndex = (ls: readonly string[], seq: number): number => ls.findIndex((l) => l.startsWith(`{"t":"decision","seq":${seq},`));
const headIndexes = (ls: readonly string[]): number[] => ls.flatMap((l, i) => (l.startsWith('{"t":"head"') ? [i] : []));

describe('the guard appends one signed record per decision', () => {
  test('allowed and denied calls are recorded with their ids and hashes, and the log verifies intact and complete', async () => {
    const dir = tmp();
    const log = fileLog(dir);
    const t = await runCalls(log);
    await log.close();
    expect(t.outcomes).toEqual(['allow', 'arguments_out_of_scope', 'allow', 'allow', 'arguments_out_of_scope', 'call_limit_exceeded', 'allow', 'arguments_out_of_scope', 'call_limit_exceeded', 'allow']);
    const segments = await readOne(dir);
    const result = await verifyDecisionLog(segments, { jwks: log.jwks() });
    expect(result.findings).toEqual([]);
    expect({ intact: result.intact, complete: result.complete, records: result.records, logId: result.logId }).toEqual({ intact: true, complete: true, records: 10, logId: log.logId });
    expect(result.heads).toBeGreaterThanOrEqual(3);

    const records = lines(segments[0]!).filter((l) => l.startsWith('{"t":"decision"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(records.map((r) => r.code ?? r.decision)).toEqual(t.outcomes);
    const first = records[0]!;
    expect(Object.keys(first)).toEqual(['t', 'seq', 'time', 'agent', 'intent', 'tool', 'callId', 'argsHash', 'decision', 'capabilityId', 'credentialId', 'policyIds']);
    expect(first).toMatchObject({ agent: AGENT, intent: 'ticket-4711', tool: 'tickets.read', callId: 'call-0', decision: 'allow' });
    // The log's own clock (the system's here): when the decision was recorded.
    expect(Math.abs((first.time as number) - Date.now())).toBeLessThan(60_000);
    expect(first.argsHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(records[1]).toMatchObject({ decision: 'deny', code: 'arguments_out_of_scope' });
    expect(Object.hasOwn(records[1]!, 'credentialId')).toBe(false);
    // Never the capability or a credential: ids and hashes only.
    const all = segments.map((s) => s.text).join('');
    expect(all).not.toContain(t.cap);
    expect(all).not.toContain(t.cap.split('.')[2]!);
  });

  test('an approval, a tool that throws and a call without a capability are recorded as such', async () => {
    const dir = tmp();
    const log = fileLog(dir, { checkpoint: { records: 100 } });
    const t = await setup({ decisionLog: log, approver: createScriptedApprover(['approve'], { approver: 'oncall@example.com' }) });
    const cap = await t.grant({ tools: { 'payments.refund': {}, 'tickets.fail': {} } });
    const refund = guardTool(t.guard, { name: 'payments.refund', description: 'Refund', input: z.object({ id: z.string() }), risk: 'external' }, async () => 'ok');
    const fail = guardTool(t.guard, { name: 'tickets.fail', description: 'Fails', input: z.object({}), risk: 'read' }, async () => {
      throw new Error('downstream 500');
    });
    await t.guard.withCapability(cap, () => refund({ id: 'r1' }, { callId: 'approved' }));
    await expect(t.guard.withCapability(cap, () => fail({}, { callId: 'threw' }))).rejects.toThrow('downstream 500');
    await expect(t.readTicket({ ticketId: '4711' }, { callId: 'nocap' })).rejects.toMatchObject({ code: 'capability_missing' });
    await log.close();
    const segments = await readOne(dir);
    expect((await verifyDecisionLog(segments, { jwks: log.jwks() })).findings).toEqual([]);
    const byCall = new Map(lines(segments[0]!).filter((l) => l.startsWith('{"t":"decision"')).map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      return [r.callId, r] as const;
    }));
    expect(byCall.get('approved')).toMatchObject({ decision: 'allow', approval: { decision: 'approved', approver: 'oncall@example.com' } });
    expect(byCall.get('threw')).toMatchObject({ decision: 'error', tool: 'tickets.fail' });
    expect(Object.hasOwn(byCall.get('threw')!, 'approval')).toBe(false);
    const nocap = byCall.get('nocap')!;
    expect(nocap).toMatchObject({ decision: 'deny', code: 'capability_missing', tool: 'tickets.read' });
    expect(['agent', 'intent', 'capabilityId', 'argsHash'].filter((k) => Object.hasOwn(nocap, k))).toEqual([]);
  });

  test('the file sink rotates segments; verification reads them in order as one log', async () => {
    const dir = tmp();
    const log = createDecisionLog({ sinks: createFileSink({ dir, maxBytes: 1024, sync: true }), checkpoint: { records: 4, intervalMs: 3_600_000 }, flushIntervalMs: 1 });
    for (let i = 0; i < 40; i++) {
      log.append('decision', { tool: 'x', callId: `c${i}`, decision: 'allow' });
      await log.flush();
    }
    await log.close();
    const files = readdirSync(dir).sort();
    expect(files.length).toBeGreaterThan(2);
    expect(files[0]).toBe(`${log.logId}.000001.jsonl`);
    const result = await verifyDecisionLog(await readOne(dir), { jwks: log.jwks() });
    expect({ findings: result.findings, records: result.records }).toEqual({ findings: [], records: 40 });
  });
});

describe('verify names each way the log was tampered with', () => {
  async function logged() {
    const dir = tmp();
    const log = fileLog(dir);
    await runCalls(log);
    await log.close();
    const segments = await readOne(dir);
    expect(segments).toHaveLength(1);
    return { log, seg: segments[0]!, ls: lines(segments[0]!) };
  }
  const kinds = async (log: DecisionLog, seg: LogSegment, heads?: string[]) => {
    const r = await verifyDecisionLog([seg], { jwks: log.jwks(), ...(heads ? { heads } : {}) });
    return { kinds: r.findings.map((f) => f.kind), findings: r.findings, intact: r.intact };
  };

  test('a changed record: placed between the two heads around it', async () => {
    const { log, seg, ls } = await logged();
    const i = recordIndex(ls, 1);
    ls[i] = ls[i]!.replace('"decision":"deny","code":"arguments_out_of_scope"', '"decision":"allow"');
    const r = await kinds(log, withLines(seg, ls));
    expect(r.kinds).toEqual(['changed']);
    expect(r.findings[0]!.from).toBeLessThanOrEqual(1);
    expect(r.findings[0]!.to).toBeGreaterThanOrEqual(1);
    expect(r.intact).toBe(false);
  });

  test('a removed record is named by its number', async () => {
    const { log, seg, ls } = await logged();
    ls.splice(recordIndex(ls, 5), 1);
    const r = await kinds(log, withLines(seg, ls));
    expect(r.kinds).toEqual(['removed']);
    expect(r.findings[0]).toMatchObject({ from: 5, to: 5 });
  });

  test('an inserted record (a forged one with a fresh number, or a copy) is named by its line', async () => {
    const { log, seg, ls } = await logged();
    const forged = ls[recordIndex(ls, 3)]!.replace('"seq":3,', '"seq":4,');
    ls.splice(recordIndex(ls, 3) + 1, 0, forged);
    const r = await kinds(log, withLines(seg, ls));
    expect(r.kinds).toEqual(['inserted']);
    expect(r.findings[0]!.from).toBe(4);

    const again = await logged();
    again.ls.splice(recordIndex(again.ls, 2), 0, again.ls[recordIndex(again.ls, 2)]!);
    expect((await kinds(again.log, withLines(again.seg, again.ls))).kinds).toEqual(['inserted']);
  });

  test('reordered records are named, and confirmed by the signed root', async () => {
    const { log, seg, ls } = await logged();
    // Heads every 4 records: at sizes 4, 8 and the final 10.
    expect(headIndexes(ls).map((i) => recordIndex(ls, 0) + i).length).toBe(3);
    // Two records of the same span (no head between them), swapped.
    const a = ls.findIndex((l, i) => l.startsWith('{"t":"decision"') && ls[i + 1]?.startsWith('{"t":"decision"'));
    expect(a).toBeGreaterThanOrEqual(0);
    [ls[a], ls[a + 1]] = [ls[a + 1]!, ls[a]!];
    const r = await kinds(log, withLines(seg, ls));
    expect(r.kinds).toEqual(['reordered']);
    expect(r.findings[0]!.message).toContain('in order they match the signed root');
  });

  test('a truncated log: cut in the middle of a line, or cut after a head and checked against a later head held elsewhere', async () => {
    const { log, seg, ls } = await logged();
    const cut = seg.text.slice(0, seg.text.length - 10);
    const mid = await verifyDecisionLog([{ name: seg.name, text: cut }], { jwks: log.jwks() });
    // The cut takes the final head with it: records 8 and 9 are left unsigned.
    expect(mid.findings.map((f) => [f.kind, f.from])).toEqual([['truncated', undefined], ['unsigned', 8]]);

    const heads = headIndexes(ls);
    const kept = ls.slice(0, heads[1]! + 1);
    // Without the later head, a log cut cleanly after a head looks like a shorter log.
    expect((await kinds(log, withLines(seg, kept))).kinds).toEqual([]);
    const r = await kinds(log, withLines(seg, kept), [log.latestHead()!.jws]);
    expect(r.kinds).toEqual(['truncated']);
    expect(r.findings[0]!.message).toMatch(/covers 10 records; this log holds \d/);
  });

  test('a forged or altered tree head is refused by its signature', async () => {
    const { log, seg, ls } = await logged();
    const h = headIndexes(ls)[0]!;
    const jws = (JSON.parse(ls[h]!) as { jws: string }).jws;
    const [header, payload, signature] = jws.split('.');
    const body = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { size: number };
    body.size += 1;
    ls[h] = JSON.stringify({ t: 'head', jws: `${header}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${signature}` });
    const r = await kinds(log, withLines(seg, ls));
    expect(r.kinds).toEqual(['bad_head']);
    // Another log's key does not verify it either.
    const other = createDecisionLog({ sinks: { name: 'none', write: () => undefined } });
    const foreign = await verifyDecisionLog([seg], { jwks: other.jwks() });
    expect(foreign.intact).toBe(false);
    expect(new Set(foreign.findings.map((f) => f.kind))).toEqual(new Set(['bad_head', 'unsigned']));
    await other.close();
  });

  test('a line that is not a decision-log line is malformed', async () => {
    const { log, seg, ls } = await logged();
    ls.splice(3, 0, 'hello');
    const r = await kinds(log, withLines(seg, ls));
    expect(r.kinds).toEqual(['malformed']);
  });

  test('records after the last signed head are reported as not yet signed', async () => {
    const { log, seg, ls } = await logged();
    const forged = JSON.stringify({ t: 'decision', seq: 10, time: 0, tool: 'tickets.read', decision: 'allow' });
    const r = await kinds(log, withLines(seg, [...ls, forged]));
    expect(r.kinds).toEqual(['unsigned']);
    expect(r.intact).toBe(true);
  });
});

describe('proofs a third party checks', () => {
  test("one call's inclusion proof verifies with the RFC 9162 algorithm written in the test, against a head verified with the published key", async () => {
    const dir = tmp();
    const log = fileLog(dir);
    const t = await runCalls(log);
    await log.close();
    const segments = await readOne(dir);
    for (const callId of t.callIds) {
      const proof = await proveCall(segments, callId, { jwks: log.jwks() });
      const { payload, protectedHeader } = await compactVerify(proof.treeHead, createLocalJWKSet(log.jwks()));
      expect(protectedHeader.typ).toBe('tessera-tree-head+jws');
      const head = JSON.parse(new TextDecoder().decode(payload)) as { size: number; root: string; log: string };
      expect({ size: head.size, root: head.root, log: head.log }).toEqual({ size: proof.treeSize, root: proof.root, log: log.logId });
      const leaf = createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(proof.record, 'utf8')])).digest();
      expect(leaf.toString('hex')).toBe(proof.leafHash);
      expect((JSON.parse(proof.record) as { callId: string }).callId).toBe(callId);
      const path = proof.path.map((h) => Buffer.from(h, 'hex'));
      expect(rfcVerifyInclusion(BigInt(proof.leafIndex), BigInt(proof.treeSize), leaf, path, Buffer.from(head.root, 'hex'))).toBe(true);
      // The same path does not prove another record.
      const other = createHash('sha256').update(Buffer.from(`\u0000${proof.record} `)).digest();
      expect(rfcVerifyInclusion(BigInt(proof.leafIndex), BigInt(proof.treeSize), other, path, Buffer.from(head.root, 'hex'))).toBe(false);
    }
    await expect(proveCall(segments, 'no-such-call', { jwks: log.jwks() })).rejects.toThrow(/no record of call "no-such-call"/);
  });

  test('no proof is printed from a tampered log', async () => {
    const dir = tmp();
    const log = fileLog(dir);
    await runCalls(log);
    await log.close();
    const [seg] = await readOne(dir);
    const ls = lines(seg!);
    ls.splice(recordIndex(ls, 0), 1);
    await expect(proveCall([withLines(seg!, ls)], 'call-3', { jwks: log.jwks() })).rejects.toThrow(/does not verify, so it proves nothing: record 0 is missing/);
  });

  test('a consistency proof shows that the latest head extends the first', async () => {
    const dir = tmp();
    const log = fileLog(dir);
    await runCalls(log);
    await log.close();
    const segments = await readOne(dir);
    const p = await proveConsistency(segments, {}, { jwks: log.jwks() });
    expect(p.second).toBe(10);
    expect(p.first).toBeLessThan(p.second);
    const hex = (h: string) => Buffer.from(h, 'hex');
    expect(verifyConsistency(p.first, p.second, p.path.map(hex), hex(p.firstRoot), hex(p.secondRoot))).toBe(true);
    expect(verifyConsistency(p.first, p.second, p.path.map(hex), hex(p.secondRoot), hex(p.secondRoot))).toBe(false);
  });
});

describe('a sink that cannot write', () => {
  // A regular file where the log directory should be: every write fails (ENOTDIR/EEXIST), even as root.
  function blocked(): { dir: string; unblock(): void } {
    const parent = tmp();
    const dir = join(parent, 'log');
    writeFileSync(dir, 'not a directory');
    return {
      dir,
      unblock() {
        rmSync(dir);
        mkdirSync(dir);
      },
    };
  }
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test("onSinkFailure 'deny': calls are refused decision_log_unavailable, the tool never runs, and the kept records are written once the sink recovers", async () => {
    const b = blocked();
    const log = fileLog(b.dir, { onSinkFailure: 'deny', retryMs: 20 });
    const t = await setup({ decisionLog: log });
    const cap = await t.grant();
    await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '4711' }, { callId: 'before' }));
    await log.flush();
    expect(log.refusing).toBe(true);
    const denied = await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '4711' }, { callId: 'during' })).catch((e: unknown) => e);
    expect(isToolDeniedError(denied) && denied.code).toBe('decision_log_unavailable');
    expect(isToolDeniedError(denied) && denied.reason).toMatch(/^the decision log sink "file" cannot write \(E[A-Z]+\); calls are denied until it records again$/);
    expect(t.ran).toEqual(['tickets.read:4711']);

    b.unblock();
    await wait(30);
    await log.flush();
    expect(log.refusing).toBe(false);
    await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '4711' }, { callId: 'after' }));
    expect(t.ran).toEqual(['tickets.read:4711', 'tickets.read:4711']);
    await log.close();
    const segments = await readOne(b.dir);
    const r = await verifyDecisionLog(segments, { jwks: log.jwks() });
    expect({ findings: r.findings, records: r.records }).toEqual({ findings: [], records: 3 });
    const recs = lines(segments[0]!).filter((l) => l.startsWith('{"t":"decision"')).map((l) => JSON.parse(l) as { callId: string; decision: string; code?: string });
    expect(recs.map((x) => [x.callId, x.code ?? x.decision])).toEqual([['before', 'allow'], ['during', 'decision_log_unavailable'], ['after', 'allow']]);
  });

  test('a sink write that never settles fails at its deadline and the guard refuses calls', async () => {
    const log = createDecisionLog({ sinks: { name: 'stuck', write: () => new Promise<void>(() => undefined) }, sinkTimeoutMs: 20, flushIntervalMs: 1 });
    const t = await setup({ decisionLog: log });
    const cap = await t.grant();
    await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '4711' }));
    await log.flush();
    const denied = await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '4711' })).catch((e: unknown) => e);
    expect(isToolDeniedError(denied) && denied.reason).toBe('the decision log sink "stuck" cannot write (DeadlineError); calls are denied until it records again');
    expect(t.ran).toHaveLength(1);
  });

  test("onSinkFailure 'record-gap': calls go on, the lost records are named by a signed gap record, and verify reports the gap (and a lost line no gap names as removed)", async () => {
    const b = blocked();
    const log = fileLog(b.dir, { onSinkFailure: 'record-gap', retryMs: 20 });
    const t = await setup({ decisionLog: log });
    const cap = await t.grant();
    await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '4711' }, { callId: 'lost-1' }));
    await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '9999' }, { callId: 'lost-2' })).catch(() => undefined);
    await log.flush();
    expect(log.refusing).toBe(false);
    await t.guard.withCapability(cap, () => t.readTicket({ ticketId: '4711' }, { callId: 'during' }));
    expect(t.ran).toHaveLength(2);
    b.unblock();
    await wait(30);
    await log.close();
    const segments = await readOne(b.dir);
    const r = await verifyDecisionLog(segments, { jwks: log.jwks() });
    expect(r.findings.map((f) => f.kind)).toEqual(['gap']);
    expect(r.findings[0]!.message).toMatch(/^records 0-1 \(2\) were not written by the "file" sink \(E[A-Z]+\); the log signed a gap record for them \(record 2\)$/);
    expect({ intact: r.intact, complete: r.complete }).toEqual({ intact: true, complete: false });
    const ls = lines(segments[0]!);
    expect(ls.filter((l) => l.includes('"callId":"during"'))).toHaveLength(1);
    expect(ls.filter((l) => l.includes('lost-'))).toEqual([]);

    // A record an attacker swaps for a lost line, with the right leaf hash, is still a removal.
    const i = ls.findIndex((l) => l.includes('"callId":"during"'));
    const seq = (JSON.parse(ls[i]!) as { seq: number }).seq;
    ls[i] = JSON.stringify({ t: 'lost', seq, leaf: createHash('sha256').update(`\u0000${ls[i]!}`).digest('hex') });
    const forged = await verifyDecisionLog([withLines(segments[0]!, ls)], { jwks: log.jwks() });
    expect(forged.findings.map((f) => [f.kind, f.from])).toEqual([['gap', 0], ['removed', seq]]);
  });
});

describe('the authority records every capability it signs', () => {
  test('grants and delegations are records with ids, never tokens; a closed log refuses grants', async () => {
    const dir = tmp();
    const log = fileLog(dir);
    const { createAuthority } = await import('../../src/index.js');
    const authority = await createAuthority({ issuer: 'https://authz.example.com', decisionLog: log });
    const token = await authority.grant({
      agent: AGENT,
      audience: 'support-app',
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: { 'tickets.read': {} },
    });
    await log.close();
    const refused = await authority
      .grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.read': {} } })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'decision_log_unavailable' });
    const segments = await readOne(dir);
    expect((await verifyDecisionLog(segments, { jwks: log.jwks() })).findings).toEqual([]);
    const text = segments[0]!.text;
    expect(text).not.toContain(token);
    const grant = JSON.parse(lines(segments[0]!)[0]!) as Record<string, unknown>;
    const jti = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    expect(grant).toMatchObject({ t: 'grant', seq: 0, how: 'grant', agent: AGENT, intent: 'ticket-4711', audience: 'support-app', tools: ['tickets.read'], tokenId: jti, bound: false });
  });
});

describe('options', () => {
  test('misuse throws naming the option', () => {
    const sink = { name: 'x', write: () => undefined };
    expect(() => createDecisionLog({ sinks: [] })).toThrow(/createDecisionLog options\.sinks/);
    expect(() => createDecisionLog({ sinks: sink, onSinkFailure: 'ignore' as never })).toThrow(/onSinkFailure/);
    expect(() => createDecisionLog({ sinks: sink, checkpoint: { records: 0 } })).toThrow(RangeError);
    expect(() => createDecisionLog({ sinks: sink, chekpoint: {} } as never)).toThrow(/did you mean "checkpoint"/);
    expect(() => createDecisionLog({ sinks: [sink, { ...sink }] })).toThrow(/distinct names/);
    const log = createDecisionLog({ sinks: sink });
    expect(() => log.append('head', {})).toThrow(TypeError);
    expect(() => log.append('decision', { seq: 1 })).toThrow(TypeError);
    void log.close();
  });

  test('a second log cannot write into another log\'s files', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'proc-a.000001.jsonl'), '');
    expect(() => createDecisionLog({ sinks: createFileSink({ dir }), logId: 'proc-a' })).toThrow(/already holds a log named "proc-a"/);
    expect(readFileSync(join(dir, 'proc-a.000001.jsonl'), 'utf8')).toBe('');
  });
});

describe('the file sink', () => {
  test('writes started together run one after another: one segment, every line, in order, no handle left open', async () => {
    const dir = tmp();
    const sink = createFileSink({ dir, prefix: 'p' });
    sink.open?.('p');
    // Neither waits for the other, as when the log gave up on a slow write at its deadline.
    await Promise.all([sink.write(['a']), sink.write(['b']), sink.write(['c'])]);
    await sink.close?.();
    expect(readdirSync(dir)).toEqual(['p.000001.jsonl']);
    expect(readFileSync(join(dir, 'p.000001.jsonl'), 'utf8')).toBe('a\nb\nc\n');
  });

  test('rotation under concurrent writes opens each segment once', async () => {
    const dir = tmp();
    const sink = createFileSink({ dir, prefix: 'p', maxBytes: 1024 });
    sink.open?.('p');
    const lines = ['a', 'b', 'c'].map((c) => c.repeat(700));
    await Promise.all(lines.map((l) => sink.write([l])));
    await sink.close?.();
    expect(readdirSync(dir).sort()).toEqual(['p.000001.jsonl', 'p.000002.jsonl', 'p.000003.jsonl']);
    expect(readdirSync(dir).sort().map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(lines.map((l) => `${l}\n`));
  });
});
