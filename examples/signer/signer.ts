/**
 * The signing process: the only process that holds the authority's private key. It stands in for
 * a KMS or an HSM: it reads the key once from the file named by TESSERA_SIGNER_KEY_FILE (PKCS #8
 * PEM, Ed25519), listens on loopback, and answers two requests from a caller that presents
 * TESSERA_SIGNER_SECRET as a bearer token:
 *
 *   GET  /public-jwk  the public half, as a JWK
 *   POST /sign        body: the JWS signing input; answer: the 64-byte Ed25519 signature
 *
 * It prints one line, {"url": ...}, when it is ready, and stops when its stdin closes.
 */
import { createPrivateKey, createPublicKey, sign, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

const keyFile = process.env.TESSERA_SIGNER_KEY_FILE;
const secret = process.env.TESSERA_SIGNER_SECRET;
if (keyFile === undefined || secret === undefined || secret.length < 32) {
  console.error('signer: set TESSERA_SIGNER_KEY_FILE and TESSERA_SIGNER_SECRET (at least 32 characters)');
  process.exit(2);
}
const privateKey = createPrivateKey(readFileSync(keyFile));
if (privateKey.asymmetricKeyType !== 'ed25519') {
  console.error('signer: the key must be an Ed25519 private key');
  process.exit(2);
}
const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' });
const expected = Buffer.from(`Bearer ${secret}`);
const MAX_INPUT = 64 * 1024;

const authorized = (req: IncomingMessage): boolean => {
  const given = Buffer.from(req.headers.authorization ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
};

async function body(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INPUT) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const server = createServer((req, res) => {
  if (!authorized(req)) {
    res.writeHead(401).end();
    return;
  }
  if (req.method === 'GET' && req.url === '/public-jwk') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(publicJwk));
    return;
  }
  if (req.method === 'POST' && req.url === '/sign') {
    body(req).then(
      (input) => {
        if (input === undefined || input.length === 0) res.writeHead(413).end();
        else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(sign(null, input, privateKey));
      },
      () => res.writeHead(400).end(),
    );
    return;
  }
  res.writeHead(404).end();
});

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});
process.stdin.resume();
process.stdin.on('end', () => server.close());
process.stdin.on('close', () => server.close());
