/**
 * `tessera audit verify` and `tessera audit prove` over the files of several guard processes,
 * each with its own log, verified together and reported one by one.
 */
import { writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { isToolDeniedError } from '../../src/errors.js';
import { createDecisionLog, createFileSink, verifyInclusion, type DecisionLog } from '../../src/telemetry/decision-log/index.js';
import { cliHarness, type CliHarness } from '../cli/support.js';
import { setup } from '../support/fixtures.js';
import { rfcVerifyInclusion } from './rfc9162-verifier.js';
import { generateKeyPairSync } from 'node:crypto';

let cli: CliHarness;
beforeEach(() => {
  cli = cliHarness();
});
afterEach(() => cli.cleanup());

/** One guard process: its own log (shared key, own id) and a few calls. */
async function process(logId: string, key: ReturnType<typeof generateKeyPairSync>['privateKey']): Promise<DecisionLog> {
  const log = createDecisionLog({ sinks: createFileSink({ dir: join(cli.dir, 'logs') }), logId, signingKey: key, checkpoint: { records: 3 } });
  const t = await setup({ decisionLog: log });
  const cap = await t.grant();
  await t.guard.withCapability(cap, async () => {
    for (let i = 0; i < 7; i++) {
      await t.readTicket({ ticketId: i === 3 ? '1' : '4711' }, { callId: `${logId}-call-${i}` }).catch((e: unknown) => {
        if (!isToolDeniedError(e)) throw e;
      });
    }
  });
  await log.close();
  return log;
}

async function twoProcesses() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const a = await process('guard-a', privateKey);
  await process('guard-b', privateKey);
  writeFileSync(join(cli.dir, 'jwks.json'), JSON.stringify(a.jwks()));
  return a;
}

test('verify reports each process on its own; exit 0 when every log is intact and complete', async () => {
  await twoProcesses();
  const r = await cli.run(['audit', 'verify', '--jwks', 'jwks.json', 'logs']);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  expect(r.out).toMatch(/^guard-a: intact \(7 records, 3 signed tree heads; latest tree head: 7 records, .+\)\nguard-b: intact \(7 records, 3 signed tree heads; latest tree head: 7 records, .+\)\n$/);
});

test('a tampered log is named, with what was done to it, and the other still verifies; exit 1', async () => {
  await twoProcesses();
  const file = join(cli.dir, 'logs', 'guard-b.000001.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes('"callId":"guard-b-call-3"'));
  lines[i] = lines[i]!.replace('"decision":"deny"', '"decision":"allow"');
  writeFileSync(file, lines.join('\n'));
  const r = await cli.run(['audit', 'verify', '--jwks', 'jwks.json', 'logs']);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/^guard-a: intact .*\nguard-b: TAMPERED .*\n  changed: records 3-5: at least one was changed after it was signed; they do not hash to the tree head of size 6 \(.+guard-b\.000001\.jsonl:\d+\)\n$/);
  const json = await cli.run(['audit', 'verify', '--json', '--jwks', 'jwks.json', 'logs']);
  const parsed = JSON.parse(json.out) as { logs: { logId: string; intact: boolean; findings: { kind: string; from: number; to: number }[] }[] };
  expect(parsed.logs.map((l) => [l.logId, l.intact, l.findings.map((f) => [f.kind, f.from, f.to])])).toEqual([
    ['guard-a', true, []],
    ['guard-b', false, [['changed', 3, 5]]],
  ]);
});

test("a tree head of another log (same key) spliced into a log is refused as another log's", async () => {
  await twoProcesses();
  const a = join(cli.dir, 'logs', 'guard-a.000001.jsonl');
  const b = readFileSync(join(cli.dir, 'logs', 'guard-b.000001.jsonl'), 'utf8').split('\n');
  writeFileSync(a, `${readFileSync(a, 'utf8')}${b.find((l) => l.startsWith('{"t":"head"'))}\n`);
  const r = await cli.run(['audit', 'verify', '--jwks', 'jwks.json', 'logs/guard-a.000001.jsonl']);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/\n  bad_head: .+guard-a\.000001\.jsonl:\d+: a tree head of another log \("guard-b"\) is in log "guard-a"\n$/);
});

test('verify --head: a log cut after a head is truncated against a later head held elsewhere', async () => {
  const a = await twoProcesses();
  writeFileSync(join(cli.dir, 'latest-head.txt'), `${a.latestHead()!.jws}\n`);
  const file = join(cli.dir, 'logs', 'guard-a.000001.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  const heads = lines.flatMap((l, i) => (l.startsWith('{"t":"head"') ? [i] : []));
  writeFileSync(file, `${lines.slice(0, heads[0]! + 1).join('\n')}\n`);
  const without = await cli.run(['audit', 'verify', '--jwks', 'jwks.json', 'logs/guard-a.000001.jsonl']);
  expect(without.code).toBe(0);
  const r = await cli.run(['audit', 'verify', '--jwks', 'jwks.json', '--head', 'latest-head.txt', 'logs/guard-a.000001.jsonl']);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/\n  truncated: a tree head signed at .+ covers 7 records; this log holds 3\n$/);
});

test('prove prints an inclusion proof a third party verifies; consistency between two heads; one log at a time', async () => {
  await twoProcesses();
  const r = await cli.run(['audit', 'prove', '--jwks', 'jwks.json', 'guard-a-call-4', 'logs/guard-a.000001.jsonl']);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  const proof = JSON.parse(r.out) as { leafIndex: number; treeSize: number; leafHash: string; path: string[]; root: string; record: string };
  expect(proof).toMatchObject({ leafIndex: 4, treeSize: 7 });
  const hex = (h: string) => Buffer.from(h, 'hex');
  expect(rfcVerifyInclusion(4n, 7n, hex(proof.leafHash), proof.path.map(hex), hex(proof.root))).toBe(true);
  expect(verifyInclusion(hex(proof.leafHash), 4, 7, proof.path.map(hex), hex(proof.root))).toBe(true);

  const c = await cli.run(['audit', 'prove', '--jwks', 'jwks.json', '--consistency', '3:7', 'logs/guard-a.000001.jsonl']);
  expect(c.code).toBe(0);
  expect(JSON.parse(c.out)).toMatchObject({ log: 'guard-a', first: 3, second: 7 });

  const both = await cli.run(['audit', 'prove', '--jwks', 'jwks.json', 'guard-a-call-4', 'logs']);
  expect({ code: both.code, err: both.err }).toEqual({ code: 1, err: 'tessera audit: the files hold 2 logs; give the files of exactly one\n' });
  const missing = await cli.run(['audit', 'prove', '--jwks', 'jwks.json', 'nope', 'logs/guard-a.000001.jsonl']);
  expect(missing.err).toBe('tessera audit: no record of call "nope" is covered by a signed tree head in this log\n');
  expect(readdirSync(join(cli.dir, 'logs')).sort()).toEqual(['guard-a.000001.jsonl', 'guard-b.000001.jsonl']);
});

test('the span audit still reads a spans file; verify and prove have their own help', async () => {
  const help = await cli.run(['audit', 'verify', '--help']);
  expect(help.out).toContain('Usage: tessera audit verify --jwks <file>');
  const prove = await cli.run(['audit', 'prove', '--help']);
  expect(prove.out).toContain('Usage: tessera audit prove --jwks <file>');
  const spans = await cli.run(['audit', '--help']);
  expect(spans.out).toContain('tessera audit verify --help');
});
