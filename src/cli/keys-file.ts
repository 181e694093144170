/** Loading an authority's private key and a guard's trusted JWKS from files. */
import type { JWK } from 'jose';
import { importSigningKey, type JWKS, type SigningKey } from '../jose/keys.js';
import { readJsonObject } from './files.js';
import { CliError, type CliIo } from './io.js';

export async function loadPrivateKey(io: CliIo, path: string): Promise<SigningKey> {
  const jwk = (await readJsonObject(io, path, 'key file')) as JWK;
  if (typeof jwk.d !== 'string') throw new CliError(`key file ${path}: not a private JWK (run "tessera keys generate")`);
  try {
    return await importSigningKey(jwk, typeof jwk.kid === 'string' ? { kid: jwk.kid } : {});
  } catch {
    // The import error may describe the key material; the file name is enough to act on.
    throw new CliError(`key file ${path}: not an Ed25519 or P-256 private key`);
  }
}

/** A JWKS from a file, or a configured https (or loopback) URL. */
export async function loadJwks(io: CliIo, source: string): Promise<JWKS | URL> {
  if (/^https?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new CliError('--jwks is not a valid URL');
    }
    if (url.protocol !== 'https:' && url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
      throw new CliError('--jwks URLs must use https (plain http only on loopback)');
    }
    return url;
  }
  const doc = await readJsonObject(io, source, 'JWKS file');
  const keys = doc.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new CliError(`JWKS file ${source}: expected {"keys": [...]} with at least one key`);
  for (const k of keys as Record<string, unknown>[]) {
    if (k !== null && typeof k === 'object' && 'd' in k) {
      throw new CliError(`JWKS file ${source}: holds a private key; give the guard the public JWKS only`);
    }
  }
  return { keys: keys as JWK[] };
}
