/**
 * `tessera-guard/redis`: the Redis store, and per-call Redis ACL users as a credential provider.
 */
export * from './store/redis.js';
export {
  createRedisAclCredentials,
  redisAclAuth,
  REDIS_ACL_CREDENTIAL_TYPE,
  type RedisAclCredentialProvider,
  type RedisAclCredentialsOptions,
  type RedisCommandClient,
  type RedisToolAccess,
} from './credentials/redis-acl.js';
export { CredentialProvisioningError } from './errors.js';
