/**
 * Rate limits per user and per address, in PostgreSQL (the default) and in
 * Redis when a test Redis server is given (CI starts one: TEST_REDIS_URL).
 */
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

const stores: Array<'postgres' | 'redis'> = process.env.TEST_REDIS_URL ? ['postgres', 'redis'] : ['postgres'];

for (const store of stores) {
  describe(`rate limits (${store})`, function () {
    const stack = useTestStack({ RATE_LIMIT_USER_PER_MINUTE: '5', RATE_LIMIT_IP_PER_MINUTE: '12' });
    let url: string;
    let redis: Redis | undefined;

    before(async () => {
      if (store === 'redis') {
        redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: 1 });
        stack.defer(() => redis?.disconnect());
        // Keys of earlier runs would count against this one.
        const stale = await redis.keys('rl-*');
        if (stale.length) await redis.del(...stale);
      }
      ({ url } = await stack.startApi({ redis }));
    });

    it('answers 429 with Retry-After past a user’s limit, leaving other users alone', async () => {
      const lena = await signSessionToken(stack.devKeys, { userId: `lena-${store}` });
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await api(url, 'GET', '/v1/users/me/subscription', { token: lena })).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
      const limited = await api(url, 'GET', '/v1/users/me/subscription', { token: lena });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      const retry = Number(limited.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
      const max = await signSessionToken(stack.devKeys, { userId: `max-${store}` });
      assert.equal((await api(url, 'GET', '/v1/users/me/subscription', { token: max })).status, 200);
    });

    it('reports the store in readiness', async () => {
      const ready = await api(url, 'GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.checks.redis, store === 'redis' ? 'ok' : undefined);
    });

    it('limits an address across users', async () => {
      // 8 /v1 requests came from this address above (refused ones count too); the limit is 12.
      const results = [];
      for (let i = 0; i < 6; i++) {
        const t = await signSessionToken(stack.devKeys, { userId: `u${i}-${store}` });
        results.push((await api(url, 'GET', '/v1/users/me/subscription', { token: t })).status);
      }
      assert.deepEqual(results, [200, 200, 200, 200, 429, 429]);
    });
  });
}
