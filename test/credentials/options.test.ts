/**
 * The providers' options are checked at construction: misuse throws a TypeError or RangeError
 * that names the option, before any call is made.
 */
import { describe, expect, test } from 'vitest';
import { createPostgresCredentials } from '../../src/credentials/postgres/index.js';
import { createRedisAclCredentials } from '../../src/redis.js';

const admin = { query: async () => [] };
const pgBase = { admin, connection: { host: '127.0.0.1', database: 'postgres' }, tools: { t: { select: ['tickets'] } }, reapIntervalMs: 0 };
const redisAdmin = { call: async () => 'OK' };
const redisBase = { admin: redisAdmin, connection: { host: '127.0.0.1' }, tools: { t: { keys: ['k:*'], commands: ['get'] } }, reapIntervalMs: 0 };

describe('createPostgresCredentials options', () => {
  test.each([
    ['a tool with no privilege', { tools: { t: {} } }, TypeError, /tools\.t.*at least one table privilege/],
    ['a table name with two dots', { tools: { t: { select: ['a.b.c'] } } }, TypeError, /tools\.t\.select\[0\]/],
    ['a role prefix in upper case', { rolePrefix: 'Tessera_' }, TypeError, /rolePrefix/],
    ['a misspelt option', { rolPrefix: 'x' }, TypeError, /unknown option "rolPrefix" \(did you mean "rolePrefix"\?\)/],
    ['a reaper interval under a second', { reapIntervalMs: 10 }, RangeError, /reapIntervalMs/],
    ['an admin without query', { admin: {} }, TypeError, /admin/],
  ])('%s', (_what, extra, kind, message) => {
    expect(() => createPostgresCredentials({ ...pgBase, ...extra } as never)).toThrow(kind);
    expect(() => createPostgresCredentials({ ...pgBase, ...extra } as never)).toThrow(message);
  });
});

describe('createRedisAclCredentials options', () => {
  test.each([
    ['a command category', { tools: { t: { keys: ['k'], commands: ['@all'] } } }, TypeError, /tools\.t\.commands\[0\]: commands are lowercase names/],
    ['a "-" rule', { tools: { t: { keys: ['k'], commands: ['-get'] } } }, TypeError, /tools\.t\.commands\[0\]: commands are lowercase names/],
    ['a key pattern with a space', { tools: { t: { keys: ['a b'], commands: ['get'] } } }, TypeError, /tools\.t\.keys\[0\]/],
    ['a placeholder naming __proto__', { tools: { t: { keys: ['{{__proto__}}'], commands: ['get'] } } }, TypeError, /tools\.t\.keys\[0\]/],
    ['an admin that is not a Redis client', { admin: { query: () => undefined } }, TypeError, /admin/],
  ])('%s', (_what, extra, kind, message) => {
    expect(() => createRedisAclCredentials({ ...redisBase, ...extra } as never)).toThrow(kind);
    expect(() => createRedisAclCredentials({ ...redisBase, ...extra } as never)).toThrow(message);
  });
});
