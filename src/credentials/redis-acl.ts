/**
 * A Redis ACL user per allowed call (in `tessera-guard/redis`): created just before the tool runs,
 * limited to the key patterns and commands declared for the tool, deleted when the call ends
 * (which also closes its connections). Redis users cannot expire, so each user's name carries its
 * expiry and a reaper deletes the ones a dead process left behind.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CredentialProvisioningError } from '../errors.js';
import { EVENT } from '../telemetry/attributes.js';
import { clockOption, functionOption, isObject } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import { systemClock, type Clock } from '../util/time.js';
import { safeKey } from '../capability/constraints.js';
import { DownstreamCredential, expiryMs, namePrefixOption, randomNameAndPassword, reapIntervalOption, startReaper } from './jit.js';
import type { Credential, CredentialProvider, CredentialRequest } from './types.js';

/** The credential type a Redis ACL user credential carries. */
export const REDIS_ACL_CREDENTIAL_TYPE = 'redis-acl-user';

/**
 * What one tool may do in Redis, declared next to the tool and never taken from the model's input.
 * `keys` are glob patterns; `{{name}}` in one stands for the call's `name` argument (a string or
 * an integer, already checked against the grant), with the glob characters in it escaped.
 */
export interface RedisToolAccess {
  /** Commands, lowercase, e.g. `get`, `hget`, or a subcommand such as `client|setname`. */
  commands: readonly string[];
  keys: readonly string[];
}

/** An ioredis client (`call`) or a node-redis client (`sendCommand`), logged in as the provisioning user. */
export type RedisCommandClient = { call(command: string, ...args: string[]): Promise<unknown> } | { sendCommand(args: string[]): Promise<unknown> };

export interface RedisAclCredentialsOptions {
  /** The provisioning connection. Its user needs `+acl|setuser +acl|deluser +acl|users`, nothing more. */
  admin: RedisCommandClient;
  /** Where the tool connects with the user it is given. */
  connection: { host: string; port?: number; tls?: boolean };
  /** Per tool name, what its user may touch. A tool not listed is refused a user. */
  tools: Readonly<Record<string, RedisToolAccess>>;
  /** Prefix of every user's name; the reaper only touches users with it. Default `tessera_jit_`. */
  userPrefix?: string;
  /** Ms between reaper sweeps; default 15,000; 0 turns the reaper off (run `reap()` yourself). */
  reapIntervalMs?: number;
  /** Deadline of one reaper sweep, ms; default 30,000. */
  reapDeadlineMs?: number;
  /** Told of a failed sweep (the next sweep tries again). */
  onReapError?: (err: unknown) => void;
  clock?: Clock;
}

export interface RedisAclCredentialProvider extends CredentialProvider {
  /** Deletes every user with the prefix whose expiry has passed; resolves with how many. */
  reap(): Promise<number>;
  /** Stops the reaper's interval. */
  close(): void;
}

const commandName = z.string().regex(/^[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)?$/, {
  message: 'commands are lowercase names such as "get" or "client|setname" (no categories, no "-" rules)',
});
const PLACEHOLDER = /\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/g;
const keyPattern = z
  .string()
  .min(1)
  .max(512)
  .refine((k) => !/[\s\u0000]/.test(k), { message: 'key patterns have no whitespace' })
  .refine((k) => [...k.matchAll(PLACEHOLDER)].every((m) => safeKey.safeParse(m[1]).success), { message: 'reserved argument name in a key pattern' });

const accessSchema = z.strictObject({
  commands: z.array(commandName).min(1).max(200).readonly(),
  keys: z.array(keyPattern).min(1).max(100).readonly(),
});

const optionsSchema = z.strictObject({
  admin: z.custom<RedisCommandClient>((v) => isObject(v) && (typeof v.call === 'function' || typeof v.sendCommand === 'function'), {
    message: 'must be an ioredis or node-redis client logged in as the provisioning user',
  }),
  connection: z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535).optional(), tls: z.boolean().optional() }),
  tools: z.record(safeKey, accessSchema),
  userPrefix: namePrefixOption.optional(),
  reapIntervalMs: reapIntervalOption.optional(),
  reapDeadlineMs: z.number().int().min(100).max(300_000).optional(),
  onReapError: functionOption<(err: unknown) => void>().optional(),
  clock: clockOption.optional(),
});

/** Escapes Redis glob characters, so an argument value matches only itself. */
const escapeGlob = (value: string): string => value.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

function fillPattern(pattern: string, request: CredentialRequest): string {
  return pattern.replace(PLACEHOLDER, (_m, name: string) => {
    const args = request.args;
    const value = args !== undefined && Object.hasOwn(args, name) ? args[name] : undefined;
    if (typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value))) return escapeGlob(String(value));
    throw new CredentialProvisioningError(
      `the key pattern of "${request.tool}" names the argument "${name}", and the call has no string or integer argument by that name`,
    );
  });
}

/** The Redis error's first word (its class, e.g. NOPERM), never the rest of its message. */
function replyClass(err: unknown): string {
  const m = err instanceof Error ? /^([A-Z]+)\b/.exec(err.message) : null;
  return m?.[1] ?? (err instanceof Error ? err.name : 'NonError');
}

export function createRedisAclCredentials(options: RedisAclCredentialsOptions): RedisAclCredentialProvider {
  const o = parseOptions(optionsSchema, options, 'createRedisAclCredentials');
  const client = o.admin as Record<string, unknown>;
  const send: (args: string[]) => Promise<unknown> =
    typeof client.call === 'function'
      ? (args) => (client.call as (c: string, ...a: string[]) => Promise<unknown>).call(client, args[0]!, ...args.slice(1))
      : (args) => (client.sendCommand as (a: string[]) => Promise<unknown>).call(client, args);
  // Per tool, once: the rules and the span's privileges text that do not depend on the call.
  const tools = new Map(
    Object.entries(o.tools as Record<string, RedisToolAccess>).map(([name, access]) => [
      name,
      {
        keys: access.keys.map((k) => ({ pattern: k, filled: /\{\{/.test(k) ? undefined : `~${k}` })),
        commands: access.commands.map((c) => `+${c}`),
        privileges: [...access.keys.map((k) => `~${k}`), ...access.commands.map((c) => `+${c}`)].join(' '),
      },
    ]),
  );
  const prefix = o.userPrefix ?? 'tessera_jit_';
  const clock = o.clock ?? systemClock;
  const scheme = o.connection.tls === true ? 'rediss' : 'redis';
  const hostPart = o.connection.host.includes(':') ? `[${o.connection.host}]` : o.connection.host;
  const base = `${hostPart}:${o.connection.port ?? 6379}`;
  const issued = new WeakMap<Credential, string>();
  // `<prefix><expiry, s>_<random>`: the reaper reads the expiry back from the name alone.
  const nameShape = new RegExp(`^${prefix}(\\d{10,12})_[a-z2-7]{26}$`);

  const sweep = async (): Promise<number> => {
    const users = await send(['ACL', 'USERS']);
    if (!Array.isArray(users)) throw new CredentialProvisioningError('ACL USERS did not answer with a list');
    const now = clock();
    const expired = users.filter((u): u is string => {
      if (typeof u !== 'string') return false;
      const m = nameShape.exec(u);
      return m !== null && Number(m[1]) * 1000 <= now;
    });
    if (expired.length === 0) return 0;
    return Number(await send(['ACL', 'DELUSER', ...expired]));
  };
  const reaper = startReaper(sweep, o.reapIntervalMs ?? 15_000, o.reapDeadlineMs ?? 30_000, 'the Redis ACL user reaper', o.onReapError);

  return {
    async mint(request: CredentialRequest): Promise<Credential> {
      const access = tools.get(request.tool);
      if (access === undefined) {
        throw new CredentialProvisioningError(`no Redis access is declared for "${request.tool}"; add it to the provider's tools (createRedisAclCredentials)`);
      }
      // Read now: the guard aborts this signal at its deadline only once it exists.
      const signal = request.signal;
      const keys = access.keys.map((k) => k.filled ?? `~${fillPattern(k.pattern, request)}`);
      const expiresAt = expiryMs(clock(), request);
      const { name: user, password } = randomNameAndPassword(`${prefix}${expiresAt / 1000}_`);
      // `#<sha256>`: the server is given the password's hash, never the password.
      const hash = createHash('sha256').update(password).digest('hex');
      const rules = ['reset', 'on', `#${hash}`, ...keys, 'resetchannels', '-@all', ...access.commands];
      try {
        await send(['ACL', 'SETUSER', user, ...rules]);
      } catch (err) {
        throw new CredentialProvisioningError(
          `Redis refused to create the ACL user for "${request.tool}" (${replyClass(err)}); the provisioning user needs +acl|setuser +acl|deluser +acl|users`,
        );
      }
      if (signal.aborted) {
        // Too late for the call: delete it now rather than at the next sweep after its expiry.
        await send(['ACL', 'DELUSER', user]).catch(() => undefined);
        throw new CredentialProvisioningError(`the ACL user for "${request.tool}" was created after the call gave up on it; it was deleted`);
      }
      request.addEvent?.(EVENT.CREDENTIAL_PROVISIONED, {
        [EVENT.CREDENTIAL_SYSTEM]: 'redis',
        [EVENT.CREDENTIAL_PRINCIPAL]: user,
        // The declared patterns, not the filled ones: an argument value never reaches the span.
        [EVENT.CREDENTIAL_PRIVILEGES]: access.privileges,
      });
      const credential = new DownstreamCredential(request.credentialId, REDIS_ACL_CREDENTIAL_TYPE, expiresAt, user, `${scheme}://${user}:${password}@${base}`);
      issued.set(credential, user);
      AUTH.set(credential, { username: user, password });
      return credential;
    },

    async revoke(credential: Credential, request: CredentialRequest): Promise<void> {
      const user = issued.get(credential);
      if (user === undefined) throw new CredentialProvisioningError('this provider did not mint the credential it was asked to revoke');
      try {
        // Deleting a user also closes every connection authenticated as it.
        await send(['ACL', 'DELUSER', user]);
      } catch (err) {
        throw new CredentialProvisioningError(
          `could not delete the ACL user for "${request.tool}" (${replyClass(err)}); the reaper deletes it after its expiry`,
        );
      }
      issued.delete(credential);
      request.addEvent?.(EVENT.CREDENTIAL_REVOKED, { [EVENT.CREDENTIAL_SYSTEM]: 'redis', [EVENT.CREDENTIAL_PRINCIPAL]: user });
    },

    reap: () => reaper.sweep(),
    close: () => reaper.stop(),
  };
}

// Kept beside the credential, not on it, so that nothing printing the credential reaches them.
const AUTH = new WeakMap<Credential, { username: string; password: string }>();

/** The username and password of a credential this provider minted, for a client's `AUTH`. */
export function redisAclAuth(credential: Credential): { username: string; password: string } {
  const auth = AUTH.get(credential);
  if (auth === undefined) throw new TypeError('redisAclAuth needs a credential minted by createRedisAclCredentials');
  return { ...auth };
}
