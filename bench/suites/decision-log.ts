/**
 * The decision log's cost. `receipt_allow_overhead_pct`: the same allowed call through two guards,
 * one appending to a decision log (file sink, default checkpoints: a signed tree head per 1000
 * records or per second), one without, in the same rounds; the figure is the median over rounds
 * of (with - without) / without. The log's batched writes and tree-head signatures run in this
 * process during the rounds and are counted. `verify_records_per_s`: offline verification of a
 * 200,000-record log (heads every 1000) read from memory, records per second of CPU time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuUsage } from 'node:process';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { createDecisionLog, createFileSink, verifyDecisionLog } from '../../src/telemetry/decision-log/index.js';
import { round, type BenchSuite } from '../harness.js';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const suite: BenchSuite = async (h) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-declog-'));
  try {
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    const log = createDecisionLog({ sinks: createFileSink({ dir }) });
    const input = z.object({ ticketId: z.string() });
    const impl = async (args: { ticketId: string }) => args.ticketId;
    const tool = (logged: boolean) =>
      guardTool(
        createGuard({ audience: 'bench', trust: { issuer: authority.issuer, jwks: authority.jwks() }, ...(logged ? { decisionLog: log } : {}) }),
        { name: 'tickets.read', description: 'Read a ticket', input, risk: 'read' },
        impl,
      );
    const on = tool(true);
    const off = tool(false);
    const capability = await authority.grant({
      agent: 'spiffe://example.org/agents/bench',
      audience: 'bench',
      intent: { id: 'bench', purpose: 'Benchmark' },
      tools: { 'tickets.read': { args: { ticketId: { startsWith: '47' } } } },
    });
    const options = { capability };
    const ok = { ticketId: '4711' };
    const ON = 'decision log: allowed call, log on';
    const OFF = 'decision log: allowed call, log off';
    // Both entries give the event loop a turn every 50 calls, as a service does between requests:
    // otherwise the log's flush timer never fires inside a round and its file writes would fall
    // outside the figure.
    const turning = (call: () => Promise<unknown>) => {
      let n = 0;
      return () => (++n % 50 === 0 ? new Promise<void>((resolve) => setImmediate(resolve)).then(call) : call());
    };
    const r = await h.rounds(
      { [ON]: turning(() => on(ok, options)), [OFF]: turning(() => off(ok, options)) },
      { iterations: 2000, rounds: 11 },
    );
    const perRound = r.series[ON]!.map((us, i) => ((us - r.series[OFF]![i]!) / r.series[OFF]![i]!) * 100);
    const pct = median(perRound);
    h.note('decision log: allowed call overhead, log on vs off', `${pct.toFixed(2)} % (target <= 5); ${round(r.us(ON) - r.us(OFF))} us`);
    await log.close();

    // A log of 200,000 records, its lines kept in memory, then verified in rounds.
    const lines: string[] = [];
    const big = createDecisionLog({ sinks: { name: 'memory', write: (ls) => {
          for (const l of ls) lines.push(l);
        } }, flushIntervalMs: 1000 });
    for (let i = 0; i < 200_000; i++) {
      big.append('decision', {
        agent: 'spiffe://example.org/agents/bench',
        intent: 'bench',
        tool: 'tickets.read',
        callId: `call-${i}`,
        argsHash: 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg',
        decision: 'allow',
        capabilityId: 'Xq3s9Rk2vT8wLm4pZ6yB1',
        credentialId: 'Qw7eR5tY3uI1oP9aS2dF4g',
        policyIds: ['tessera.risk-baseline'],
      });
    }
    await big.close();
    const text = `${lines.join('\n')}\n`;
    const jwks = big.jwks();
    const rates: number[] = [];
    let records = 0;
    for (let i = 0; i < 5; i++) {
      const c0 = cpuUsage();
      const v = await verifyDecisionLog([{ name: 'bench', text }], { jwks });
      const c = cpuUsage(c0);
      if (!v.complete) throw new Error(`the benchmark log does not verify: ${v.findings.slice(0, 2).map((f) => f.message).join('; ')}`);
      records = v.records;
      rates.push(v.records / ((c.user + c.system) / 1e6));
    }
    const perSec = median(rates);
    h.note('decision log: verify, records per second (CPU)', `${Math.round(perSec).toLocaleString('en-US')} (target >= 200,000; ${records} records, median of 5)`);
    return { receipt_allow_overhead_pct: round(pct, 2), receipt_allow_overhead_us: round(r.us(ON) - r.us(OFF)), verify_records_per_s: Math.round(perSec) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

export default suite;
