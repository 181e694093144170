/**
 * A minimal OTLP/HTTP receiver on 127.0.0.1 for tests: it accepts what the OTLP HTTP exporters
 * send (JSON, optionally gzipped), keeps every request decoded, and answers as a collector does.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface OtlpReceiver {
  /** Base URL, e.g. `http://127.0.0.1:43127`. */
  readonly endpoint: string;
  /** Decoded request bodies by path (`/v1/traces`, `/v1/metrics`). */
  readonly received: Map<string, unknown[]>;
  /** Raw request bodies by path, as text. */
  readonly raw: Map<string, string[]>;
  readonly contentTypes: Set<string>;
  stop(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(buf) : buf;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received = new Map<string, unknown[]>();
  const raw = new Map<string, string[]>();
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const type = String(req.headers['content-type'] ?? '');
      contentTypes.add(type);
      const buf = await body(req);
      if (req.method !== 'POST' || !type.startsWith('application/json')) {
        // Protobuf is not decoded here; a test that gets it fails on the content type it records.
        res.writeHead(415).end();
        return;
      }
      const text = buf.toString('utf8');
      raw.set(path, [...(raw.get(path) ?? []), text]);
      received.set(path, [...(received.get(path) ?? []), JSON.parse(text) as unknown]);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    })().catch(() => res.writeHead(400).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('receiver has no address');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    received,
    raw,
    contentTypes,
    stop: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
