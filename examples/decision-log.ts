/**
 * The decision log: a guard writes every decision to an append-only Merkle log (RFC 9162) in a
 * temp directory, with a signed tree head every 4 records. A few calls are allowed and a few
 * denied; then the log is verified offline with its published key set, one call's inclusion
 * proof is printed and checked, and after one record is edited on disk, verification names the
 * span of signed records the edited one sits in.
 *
 * Run: npx tsx examples/decision-log.ts
 *
 * The same checks from the command line: `tessera audit verify --jwks jwks.json <dir>` and
 * `tessera audit prove --jwks jwks.json <call-id> <files>`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, ToolDeniedError } from '../src/index.js';
import {
  createDecisionLog,
  createFileSink,
  leafHash,
  proveCall,
  readDecisionLogFiles,
  verifyDecisionLog,
  verifyInclusion,
  type LogVerification,
} from '../src/telemetry/decision-log/index.js';

export async function decisionLogExample(): Promise<string[]> {
  const out: string[] = [];
  const say = (line: string) => out.push(line);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-decision-log-'));
  try {
    const log = createDecisionLog({ sinks: createFileSink({ dir }), logId: 'support-guard', checkpoint: { records: 4, intervalMs: 60_000 } });
    const jwks = log.jwks(); // published where auditors find it
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    const guard = createGuard({ audience: 'support-app', trust: { issuer: authority.issuer, jwks: () => authority.jwks() }, decisionLog: log });
    const readTicket = guardTool(
      guard,
      { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
      async ({ ticketId }) => ({ ticketId, status: 'open' }),
    );
    const capability = await authority.grant({
      agent: 'spiffe://example.org/agents/support',
      audience: 'support-app',
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: { 'tickets.read': { args: { ticketId: { in: ['4711', '4712'] } }, maxCalls: 3 } },
      ttl: '5m',
    });

    say('Calls, each one a record in the log:');
    const calls: [callId: string, ticketId: string][] = [
      ['call-1', '4711'],
      ['call-2', '4712'],
      ['call-3', '9999'],
      ['call-4', '4711'],
      ['call-5', '4712'],
      ['call-6', '4711'],
    ];
    for (const [callId, ticketId] of calls) {
      try {
        await readTicket({ ticketId }, { capability, callId });
        say(`  ${callId} allowed  read ticket ${ticketId}`);
      } catch (err) {
        if (!(err instanceof ToolDeniedError)) throw err;
        say(`  ${callId} denied   read ticket ${ticketId}: ${err.code}`);
      }
    }
    await log.close(); // signs a last tree head over the final records

    const report = (v: LogVerification) => {
      say(`  ${v.records} records, ${v.heads} signed tree heads: ${v.intact ? 'intact' : 'TAMPERED'}${v.complete ? ', complete' : ''}`);
      // The temp directory is left out of the message so the output reads the same on every run.
      for (const f of v.findings) say(`  ${f.kind}: ${f.message.replaceAll(`${dir}/`, '')}`);
    };

    say('\nVerify the log offline with the published key set:');
    const [files] = await readDecisionLogFiles([dir]);
    report(await verifyDecisionLog(files!.segments, { jwks }));

    say('\nProve that call-3 is in the log:');
    const proof = await proveCall(files!.segments, 'call-3', { jwks });
    const record = JSON.parse(proof.record) as { decision: string; code?: string };
    say(`  record ${proof.seq}: ${record.decision} ${record.code ?? ''}`.trimEnd());
    say(`  leaf ${proof.leafIndex} of ${proof.treeSize}, ${proof.path.length} hashes on the inclusion path to the root of a signed tree head`);
    const hex = (h: string) => Buffer.from(h, 'hex');
    const holds = verifyInclusion(leafHash(proof.record), proof.leafIndex, proof.treeSize, proof.path.map(hex), hex(proof.root));
    say(`  the path leads from the record's leaf hash to the signed root: ${holds ? 'yes' : 'no'}`);

    say('\nSomeone edits record 2 on disk (denied becomes allowed):');
    const file = files!.segments[0]!.name;
    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"callId":"call-3"'));
    lines[i] = lines[i]!.replace('"decision":"deny"', '"decision":"allow"');
    writeFileSync(file, lines.join('\n'));
    const [edited] = await readDecisionLogFiles([dir]);
    report(await verifyDecisionLog(edited!.segments, { jwks }));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await decisionLogExample()) console.log(line);
}
