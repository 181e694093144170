/**
 * Writes an OTLP JSON file of guard spans with evidence, as one ExportTraceServiceRequest (one
 * document, not one per line), the way the OTLP exporter writes each span: every attribute the
 * guard records on an allowed call, evidence, and a retrieval event on reads. The calls spread
 * over 20 agents, 5 purposes each, and intents of 10 calls.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createHash } from 'node:crypto';

const kv = (key: string, value: string): string => `{"key":${JSON.stringify(key)},"value":{"stringValue":${JSON.stringify(value)}}}`;
const kvInt = (key: string, value: number): string => `{"key":"${key}","value":{"intValue":"${value}"}}`;
const kvDouble = (key: string, value: number): string => `{"key":"${key}","value":{"doubleValue":${value}}}`;
const h = (s: string): string => createHash('sha256').update(s).digest('base64url').slice(0, 22);

const TOOLS = [
  { name: 'fs.read', args: (i: number) => ({ path: { t: 'path', dir: `/srv/app/reports/${i % 7}` } }) },
  { name: 'web.get', args: (i: number) => ({ url: { t: 'url', scheme: 'https', host: `api${i % 3}.example.com` } }) },
  { name: 'payments.refund', args: (i: number) => ({ amount: { t: 'number', v: (i % 500) + 0.5 }, currency: { t: 'string', len: 3, h: h(`c${i % 2}`) } }) },
  { name: 'email.send', args: (i: number) => ({ to: { t: 'email', domain: 'example.com', h: h(`to${i % 40}`) }, subject: { t: 'string', len: 20 + (i % 30), h: h(`s${i}`) } }) },
  { name: 'db.query', args: (i: number) => ({ table: { t: 'string', len: 6, h: h(`t${i % 4}`) }, limit: { t: 'number', v: 10 + (i % 90) } }) },
  { name: 'tickets.read', args: (i: number) => ({ ticketId: { t: 'string', len: 4, h: h(`k${i % 1000}`) }, full: { t: 'boolean', v: i % 2 === 0 } }) },
] as const;

export async function writeAdviseData(path: string, calls: number): Promise<number> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  const t0 = 1_764_000_000_000;
  let bytes = 0;
  const write = async (s: string): Promise<void> => {
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"agents"}}],"droppedAttributesCount":0},"scopeSpans":[{"scope":{"name":"tessera","version":"0.1.0"},"spans":[');
  let batch: string[] = [];
  for (let i = 0; i < calls; i++) {
    const intent = Math.floor(i / 10);
    const agent = `spiffe://example.org/agents/worker-${intent % 20}`;
    const purpose = `Purpose ${intent % 5} of worker ${intent % 20}`;
    const tool = TOOLS[i % TOOLS.length]!;
    const cap = `cap-${intent.toString(36).padStart(16, '0')}`;
    const shadowDeny = i % 50 === 49;
    const start = BigInt(t0 + intent * 60_000 + (i % 10) * 1_500) * 1_000_000n;
    const evidence = JSON.stringify({ v: 1, purpose, args: tool.args(i) });
    const attrs = [
      kv('gen_ai.operation.name', 'execute_tool'),
      kv('gen_ai.tool.name', tool.name),
      kv('gen_ai.tool.call.id', `call-${i.toString(36)}`),
      kv('gen_ai.tool.description', `The ${tool.name} tool`),
      kv('gen_ai.tool.type', 'function'),
      kv('tessera.risk', 'read'),
      kv('tessera.capability.id', cap),
      kv('tessera.intent.id', `task-${intent}`),
      kv('gen_ai.agent.id', agent),
      kvInt('tessera.delegation.depth', 0),
      kv('tessera.identity.source', 'jwt-svid'),
      kv('tessera.args.sha256', h(`args${i}`) + h(`more${i}`).slice(0, 21)),
      kv('tessera.evidence', evidence),
      kv('tessera.decision', shadowDeny ? 'deny' : 'allow'),
      ...(shadowDeny
        ? [kv('tessera.denial.code', 'arguments_out_of_scope'), kv('tessera.denial.reason', 'path must be an absolute path within /srv/app'), { toString: () => '{"key":"tessera.enforced","value":{"boolValue":false}}' }.toString()]
        : [kv('tessera.credential.id', `cred-${i.toString(36)}`), kv('tessera.credential.type', 'jwt')]),
      kvDouble('tessera.guard.overhead_us', 70 + (i % 13)),
    ];
    const events =
      tool.name === 'db.query'
        ? `[{"timeUnixNano":"${start + 500_000n}","name":"tessera.retrieval","attributes":[${kv('tessera.retrieval.source', 'crm')},${kvInt('tessera.retrieval.records', 10 + (i % 90))},${kvInt('tessera.retrieval.bytes', (10 + (i % 90)) * 180)},{"key":"tessera.retrieval.labels","value":{"arrayValue":{"values":[{"stringValue":"customer"}]}}}],"droppedAttributesCount":0}]`
        : '[]';
    batch.push(
      `{"traceId":"${i.toString(16).padStart(32, '0')}","spanId":"${i.toString(16).padStart(16, '0')}","name":"execute_tool ${tool.name}","kind":1,"startTimeUnixNano":"${start}","endTimeUnixNano":"${start + 900_000n}","attributes":[${attrs.join(',')}],"droppedAttributesCount":0,"events":${events},"droppedEventsCount":0,"status":{"code":0},"links":[],"droppedLinksCount":0}`,
    );
    if (batch.length === 1000 || i === calls - 1) {
      await write((i >= 1000 ? ',' : '') + batch.join(','));
      batch = [];
    }
  }
  await write(']}]}]}\n');
  out.end();
  await once(out, 'finish');
  return bytes;
}
