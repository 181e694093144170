import { expect, test } from 'vitest';
import { redisSharedStateExample } from '../../examples/redis-shared-state.js';
import { redisTestsEnabled } from '../support/redis-server.js';

test.skipIf(!redisTestsEnabled())('the Redis example: one budget across two workers, one emergency stop for both', async () => {
  expect(await redisSharedStateExample()).toEqual([
    'worker A (ioredis): sent to customer@example.com',
    'worker B (node-redis): sent to customer@example.com',
    'A: denied (call_limit_exceeded)',
    'A: denied (capability_revoked)',
    'B: denied (capability_revoked)',
  ]);
});
