/**
 * `tessera-guard/postgres`: a PostgreSQL login role per allowed call. Created just before the tool
 * runs with `VALID UNTIL` at the call credential's expiry and exactly the table privileges the
 * tool's declaration names (narrowed by the grant), handed to the tool as a connection string,
 * and dropped when the call ends, its sessions terminated first. A reaper drops the roles a dead
 * process left behind once they expire.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { z } from 'zod';
import { CredentialProvisioningError } from '../../errors.js';
import { clockOption, functionOption, objectWithMethods } from '../../util/option-schemas.js';
import { parseOptions } from '../../util/options.js';
import { systemClock, type Clock } from '../../util/time.js';
import { safeKey } from '../../capability/constraints.js';
import {
  declarationMap,
  DownstreamCredential,
  expiryMs,
  namePrefixOption,
  narrowByGrant,
  randomName,
  randomPassword,
  reapIntervalOption,
  startReaper,
} from '../jit.js';
import { EVENT } from '../../telemetry/attributes.js';
import type { Credential, CredentialProvider, CredentialRequest } from '../types.js';

export { CredentialProvisioningError } from '../../errors.js';

/** The credential type a Postgres role credential carries. */
export const POSTGRES_CREDENTIAL_TYPE = 'postgres-role';

/**
 * What one tool may do, declared next to the tool and never taken from the model's input. Table
 * names are `table` or `schema.table`, as they are named in the database (quoted when granted).
 */
export interface PostgresToolPrivileges {
  select?: readonly string[];
  insert?: readonly string[];
  update?: readonly string[];
  delete?: readonly string[];
  /**
   * The tool's argument that names a table. When set, each declared table is kept only if the
   * grant would allow a call with that argument set to the table's name: a grant of
   * `table: { in: ['tickets'] }` leaves the role privileges on `tickets` alone.
   */
  narrowBy?: string;
}

/** The part of a `pg` Pool or Client the provider uses: one simple-protocol query at a time. */
export interface PostgresAdmin {
  query(text: string): Promise<unknown>;
}

export interface PostgresCredentialsOptions {
  /**
   * Connections logged in as the provisioning role (a `pg.Pool` is best). Its rights: `LOGIN
   * CREATEROLE` and each privilege it hands out `WITH GRANT OPTION`, nothing more.
   */
  admin: PostgresAdmin;
  /** Where the tool connects with the role it is given. */
  connection: { host: string; port?: number; database: string };
  /** Per tool name, the table privileges its role gets. A tool not listed is refused a role. */
  tools: Readonly<Record<string, PostgresToolPrivileges>>;
  /** Prefix of every role's name; the reaper only touches roles with it. Default `tessera_jit_`. */
  rolePrefix?: string;
  /** Sessions one role may hold at once; default 4. */
  connectionLimit?: number;
  /** Ms between reaper sweeps; default 15,000; 0 turns the reaper off (run `reap()` yourself). */
  reapIntervalMs?: number;
  /** Deadline of one reaper sweep, ms; default 30,000. */
  reapDeadlineMs?: number;
  /** Told of a failed sweep (the next sweep tries again). The error may quote the server. */
  onReapError?: (err: unknown) => void;
  clock?: Clock;
}

export interface PostgresCredentialProvider extends CredentialProvider {
  /** Drops every expired role with the prefix (ended sessions first); resolves with how many. */
  reap(): Promise<number>;
  /** Stops the reaper's interval. */
  close(): void;
}

const PRIVILEGES = ['select', 'insert', 'update', 'delete'] as const;
type Privilege = (typeof PRIVILEGES)[number];

const tableName = z
  .string()
  .regex(/^[^.\u0000]{1,63}(\.[^.\u0000]{1,63})?$/, { message: 'table names are "table" or "schema.table", each part 1 to 63 characters' });
const tableList = z.array(tableName).max(1000).readonly().optional();

const toolPrivilegesSchema = z
  .strictObject({ select: tableList, insert: tableList, update: tableList, delete: tableList, narrowBy: safeKey.optional() })
  .refine((t) => PRIVILEGES.some((p) => (t[p]?.length ?? 0) > 0), { message: 'declare at least one table privilege' });

const optionsSchema = z.strictObject({
  admin: objectWithMethods<PostgresAdmin>(['query'], 'a pg Pool or Client logged in as the provisioning role'),
  connection: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().min(1),
  }),
  tools: z.record(safeKey, toolPrivilegesSchema),
  rolePrefix: namePrefixOption.optional(),
  connectionLimit: z.number().int().min(1).max(1000).optional(),
  reapIntervalMs: reapIntervalOption.optional(),
  reapDeadlineMs: z.number().int().min(100).max(300_000).optional(),
  onReapError: functionOption<(err: unknown) => void>().optional(),
  clock: clockOption.optional(),
});

const pbkdf2Async = promisify(pbkdf2);
// Key stretching protects passwords people choose; these have 256 random bits, which no number
// of iterations makes stronger. Few iterations keep minting, and every login the tool makes, cheap.
const SCRAM_ITERATIONS = 16;

/**
 * The SCRAM-SHA-256 secret PostgreSQL stores (RFC 5802, RFC 7677), computed here so that the
 * password itself never reaches the server, its statement log or its error messages.
 */
async function scramSecret(password: string): Promise<string> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** `schema.table` or `table`, each part quoted: the name as declared, never an argument value. */
const quoteTable = (name: string): string => name.split('.').map(pg.escapeIdentifier).join('.');

/** The SQLSTATE of a server error, if it has one: never its message, which may quote the server. */
function sqlState(err: unknown): string {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : err instanceof Error ? err.name : 'NonError';
}

/** The rows of the last statement of a (possibly multi-statement) simple query. */
function lastRows(result: unknown): readonly Record<string, unknown>[] {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  const rows = last !== null && typeof last === 'object' ? (last as { rows?: unknown }).rows : undefined;
  return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
}

/** Extracts the tool's `pg` client config from a credential this provider minted. */
export function postgresClientConfig(credential: Credential): { host: string; port: number; database: string; user: string; password: string } {
  const config = CONFIGS.get(credential);
  if (config === undefined) throw new TypeError('postgresClientConfig needs a credential minted by createPostgresCredentials');
  return { ...config };
}

/** The name whose `hashtext` keys the advisory lock that serializes a provider's grants and drops. */
export const advisoryLockName = (rolePrefix: string): string => `tessera-guard:postgres:${rolePrefix}`;

// Kept beside the credential, not on it, so that nothing printing the credential reaches them.
const CONFIGS = new WeakMap<Credential, { host: string; port: number; database: string; user: string; password: string }>();

export function createPostgresCredentials(options: PostgresCredentialsOptions): PostgresCredentialProvider {
  const o = parseOptions(optionsSchema, options, 'createPostgresCredentials');
  const admin = o.admin;
  const tools = declarationMap(o.tools as Record<string, PostgresToolPrivileges>);
  const prefix = o.rolePrefix ?? 'tessera_jit_';
  const connectionLimit = o.connectionLimit ?? 4;
  const clock = o.clock ?? systemClock;
  const host = o.connection.host;
  const port = o.connection.port ?? 5432;
  const database = o.connection.database;
  const issued = new WeakMap<Credential, string>();

  /** The tables per privilege this call's role gets: the declaration, narrowed by the grant. */
  const privilegesFor = (request: CredentialRequest): [Privilege, string[]][] => {
    const declared = tools.get(request.tool);
    if (declared === undefined) {
      throw new CredentialProvisioningError(
        `no PostgreSQL privileges are declared for "${request.tool}"; add it to the provider's tools (createPostgresCredentials)`,
      );
    }
    const out: [Privilege, string[]][] = [];
    for (const privilege of PRIVILEGES) {
      const tables = declared[privilege];
      if (tables === undefined || tables.length === 0) continue;
      const kept = declared.narrowBy === undefined ? [...tables] : narrowByGrant(request, declared.narrowBy, tables);
      if (kept.length > 0) out.push([privilege, kept]);
    }
    if (out.length === 0) {
      throw new CredentialProvisioningError(
        `the grant leaves "${request.tool}" no table its declaration names (narrowed by the "${declared.narrowBy}" argument's constraint); nothing to provision`,
      );
    }
    return out;
  };

  // GRANT and REVOKE rewrite the table's catalog row without a lock PostgreSQL would wait on: two
  // at once fail with "tuple concurrently updated". One transaction-scoped advisory lock per
  // prefix serializes this provider's grants and drops across every process that shares it.
  const lock = `SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext(${pg.escapeLiteral(advisoryLockName(prefix))}));`;

  /**
   * Drops a role: first no new session (committed on its own), then its sessions ended, what it
   * owns and was granted dropped, and the role itself. Resolves with the sessions ended, or
   * undefined when another process (a reaper) dropped it first.
   */
  const dropRole = async (role: string): Promise<number | undefined> => {
    const ident = pg.escapeIdentifier(role);
    try {
      await admin.query(`${lock}ALTER ROLE ${ident} NOLOGIN`);
      const result = await admin.query(
        lock +
          `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid, 5000)) AS ended FROM pg_catalog.pg_stat_activity WHERE usename = ${pg.escapeLiteral(role)};` +
          `DROP OWNED BY ${ident}; DROP ROLE ${ident};`,
      );
      const stats = Array.isArray(result) ? lastRows(result[1]) : lastRows(result);
      return Number(stats[0]?.ended ?? 0);
    } catch (err) {
      // 42704 undefined_object: the role is already gone.
      if ((err as { code?: unknown }).code === '42704') return undefined;
      throw err;
    }
  };

  const sweep = async (): Promise<number> => {
    const expired = lastRows(
      await admin.query(
        `SELECT rolname FROM pg_catalog.pg_roles WHERE pg_catalog.starts_with(rolname, ${pg.escapeLiteral(prefix)}) ` +
          `AND rolvaliduntil IS NOT NULL AND rolvaliduntil < pg_catalog.now() AND pg_catalog.pg_has_role(current_user, oid, 'MEMBER')`,
      ),
    );
    let dropped = 0;
    for (const row of expired) {
      const role = row.rolname;
      if (typeof role !== 'string' || !role.startsWith(prefix)) continue;
      if ((await dropRole(role)) !== undefined) dropped++;
    }
    return dropped;
  };
  const reaper = startReaper(sweep, o.reapIntervalMs ?? 15_000, o.reapDeadlineMs ?? 30_000, 'the PostgreSQL role reaper', o.onReapError);

  return {
    async mint(request: CredentialRequest): Promise<Credential> {
      // Read now: the guard aborts this signal at its deadline only once it exists.
      const signal = request.signal;
      const privileges = privilegesFor(request);
      const expiresAt = expiryMs(clock(), request);
      const role = randomName(prefix);
      const password = randomPassword();
      const secret = await scramSecret(password);
      const ident = pg.escapeIdentifier(role);
      const granted: string[] = [];
      const checks: string[] = [];
      let sql =
        lock +
        `CREATE ROLE ${ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS ` +
        `CONNECTION LIMIT ${connectionLimit} PASSWORD ${pg.escapeLiteral(secret)} VALID UNTIL ${pg.escapeLiteral(new Date(expiresAt).toISOString())};` +
        // Membership lets this role end the new role's sessions and drop what it owns, later,
        // from any process: no pg_signal_backend, no superuser.
        `GRANT ${ident} TO CURRENT_USER;`;
      for (const [privilege, tables] of privileges) {
        const keyword = privilege.toUpperCase();
        sql += `GRANT ${keyword} ON TABLE ${tables.map(quoteTable).join(', ')} TO ${ident};`;
        granted.push(`${keyword} ${tables.join(', ')}`);
        for (const t of tables) checks.push(`pg_catalog.has_table_privilege(${pg.escapeLiteral(role)}, ${pg.escapeLiteral(quoteTable(t))}, ${pg.escapeLiteral(keyword)})`);
      }
      // A GRANT without the grant option only warns: check that every privilege arrived.
      sql += `SELECT (${checks.join(' AND ')}) AS granted;`;
      if (signal.aborted) throw new CredentialProvisioningError(`the call gave up on its role for "${request.tool}" before it was created`);
      let complete: boolean;
      try {
        complete = lastRows(await admin.query(sql))[0]?.granted === true;
      } catch (err) {
        throw new CredentialProvisioningError(
          `PostgreSQL refused to create the role for "${request.tool}" (${sqlState(err)}); the provisioning role needs CREATEROLE and ${granted.join('; ')} WITH GRANT OPTION`,
          { cause: err },
        );
      }
      if (!complete || signal.aborted) {
        // Too late for the call, or incomplete: drop it now rather than at its expiry.
        await dropRole(role).catch(() => undefined);
        throw new CredentialProvisioningError(
          complete
            ? `the role for "${request.tool}" was created after the call gave up on it; it was dropped`
            : `the provisioning role lacks the grant option for ${granted.join('; ')}; grant it WITH GRANT OPTION`,
        );
      }
      request.addEvent?.(EVENT.CREDENTIAL_PROVISIONED, {
        [EVENT.CREDENTIAL_SYSTEM]: 'postgresql',
        [EVENT.CREDENTIAL_PRINCIPAL]: role,
        [EVENT.CREDENTIAL_PRIVILEGES]: granted.join('; '),
      });
      const url = `postgresql://${role}:${password}@${encodeURIComponent(host)}:${port}/${encodeURIComponent(database)}`;
      const credential = new DownstreamCredential(request.credentialId, POSTGRES_CREDENTIAL_TYPE, expiresAt, role, url);
      issued.set(credential, role);
      CONFIGS.set(credential, { host, port, database, user: role, password });
      return credential;
    },

    async revoke(credential: Credential, request: CredentialRequest): Promise<void> {
      const role = issued.get(credential);
      if (role === undefined) throw new CredentialProvisioningError('this provider did not mint the credential it was asked to revoke');
      let ended: number | undefined;
      try {
        // Undefined when the reaper dropped it first: the call outlived its credential.
        ended = await dropRole(role);
      } catch (err) {
        throw new CredentialProvisioningError(
          `could not drop the role for "${request.tool}" (${sqlState(err)}); the reaper drops it after its expiry`,
          { cause: err },
        );
      }
      issued.delete(credential);
      request.addEvent?.(EVENT.CREDENTIAL_REVOKED, {
        [EVENT.CREDENTIAL_SYSTEM]: 'postgresql',
        [EVENT.CREDENTIAL_PRINCIPAL]: role,
        [EVENT.CREDENTIAL_SESSIONS_ENDED]: ended ?? 0,
      });
    },

    reap: () => reaper.sweep(),
    close: () => reaper.stop(),
  };
}
