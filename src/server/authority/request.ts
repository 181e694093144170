/** Reading requests within bounds: a body larger than the limit is refused before it is buffered whole. */
import { OAuthError, badRequest } from './oauth-error.js';

const tooLarge = (max: number): OAuthError => new OAuthError(413, 'invalid_request', `the request body exceeds ${max} bytes`);

export async function readBody(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    if (!/^\d{1,15}$/.test(declared)) throw badRequest('invalid_request', 'Content-Length is not a number');
    if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
    // A declared length within the limit bounds what the HTTP parser delivers, so the body is
    // read whole: Node adapters serve that from the socket's buffer, where `request.body` would
    // first build a web stream, an abort signal and a full Request around it. Checked again after.
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
    return decodeUtf8(bytes);
  }
  if (request.body === null) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return decodeUtf8(Buffer.concat(chunks));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw badRequest('invalid_request', 'the request body is not UTF-8');
  }
}

function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** An `application/x-www-form-urlencoded` body, each parameter at most once (RFC 6749 §3.2). */
export async function readForm(request: Request, maxBytes: number): Promise<Map<string, string>> {
  if (mediaType(request) !== 'application/x-www-form-urlencoded') {
    throw badRequest('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const body = await readBody(request, maxBytes);
  const form = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (form.has(name)) throw badRequest('invalid_request', `the parameter "${name.slice(0, 64)}" is given more than once`);
    form.set(name, value);
  }
  return form;
}

/** A JSON object body. */
export async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  if (mediaType(request) !== 'application/json') throw badRequest('invalid_request', 'the body must be application/json');
  const body = await readBody(request, maxBytes);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw badRequest('invalid_request', 'the body is not valid JSON');
  }
}

/** The token of an `Authorization: Bearer` header, or undefined when there is none. */
export function bearerToken(request: Request): string | undefined {
  const h = request.headers.get('authorization');
  if (h === null) return undefined;
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(h);
  if (m === null) throw new OAuthError(401, 'invalid_token', 'the Authorization header must be "Bearer <identity token>"', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  return m[1]!;
}
