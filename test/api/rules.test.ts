/**
 * The rules every route keeps, against the real app, PostgreSQL and Temporal:
 * allowances under a race, idempotent repeats, roles, listing, ETags, CORS, metrics.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { createProviders } from '../../wiring/providers';

describe('API rules', function () {
  const stack = useTestStack({ CORS_ORIGINS: 'https://app.example.com' });
  let url: string;
  const token = (userId: string, role = 'user') => signSessionToken(stack.devKeys, { userId, role });

  before(async () => {
    ({ url } = await stack.startApi());
    // Slow providers: books stay running long enough to be cancelled.
    await stack.startWorker(createProviders({ ...stack.config, offlineProviderDelayMs: 1000 }));
    // At teardown, before the worker stops: end the books still running.
    stack.defer(async () => {
      for await (const wf of stack.client.workflow.list({ query: `ExecutionStatus = 'Running' AND TaskQueue = '${stack.taskQueue}'` })) {
        await stack.client.workflow.getHandle(wf.workflowId).terminate('test over').catch(() => undefined);
      }
    });
  });

  const workflowsOf = async (userId: string) => {
    let n = 0;
    for await (const _ of stack.client.workflow.list({ query: `EbookUserId = '${userId}'` })) n++;
    return n;
  };

  it('starts exactly one book for 50 concurrent requests of a free user, and gives the allowance back on cancel', async () => {
    const erin = await token('erin');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api(url, 'POST', '/v1/ebooks', { token: erin, body: { prompt: `Race ${i}`, chapterCount: 2 } }),
      ),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 402);
    assert.equal(accepted.length, 1, answers.map((a) => a.status).join(','));
    assert.equal(refused.length, 49);
    assert.equal(refused[0].headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.match(refused[0].body.detail, /1 ebook\(s\) a month/);
    const profile = await stack.services.repos.profiles.getByClerkId('erin');
    const rows = await stack.services.knex('memory_books').where({ user_id: profile!.id });
    assert.equal(rows.length, 1, 'one book recorded');
    await waitFor('the visibility store', async () => (await workflowsOf('erin')) >= 1);
    assert.equal(await workflowsOf('erin'), 1, 'one workflow started');

    const sub = await api(url, 'GET', '/v1/users/me/subscription', { token: erin });
    assert.equal(sub.body.usedThisPeriod, 1);
    assert.equal(sub.body.remainingThisPeriod, 0);

    const id = accepted[0].body.id;
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/cancel`, { token: erin })).status, 202);
    await waitFor('the cancellation', async () => {
      const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token: erin });
      return s.body.status === 'cancelled';
    });
    const after = await api(url, 'GET', '/v1/users/me/subscription', { token: erin });
    assert.equal(after.body.usedThisPeriod, 0, 'a cancelled book gives its allowance back');
    const again = await api(url, 'POST', '/v1/ebooks', { token: erin, body: { prompt: 'Second try', chapterCount: 1 } });
    assert.equal(again.status, 202);
  });

  it('answers a repeated Idempotency-Key with the first answer and starts nothing', async () => {
    const frank = await token('frank');
    const body = { prompt: 'An idempotent voyage', chapterCount: 1 };
    const headers = { 'idempotency-key': 'book-1' };
    const first = await api(url, 'POST', '/v1/ebooks', { token: frank, body, headers });
    assert.equal(first.status, 202);
    const repeats = await Promise.all(
      Array.from({ length: 5 }, () => api(url, 'POST', '/v1/ebooks', { token: frank, body, headers })),
    );
    for (const r of repeats) {
      assert.equal(r.status, 202);
      assert.deepEqual(r.body, first.body);
      assert.equal(r.headers.get('idempotent-replayed'), 'true');
      assert.equal(r.headers.get('location'), first.headers.get('location'));
    }
    const profile = await stack.services.repos.profiles.getByClerkId('frank');
    assert.equal((await stack.services.knex('memory_books').where({ user_id: profile!.id })).length, 1);

    const other = await api(url, 'POST', '/v1/ebooks', { token: frank, body: { ...body, prompt: 'Else' }, headers });
    assert.equal(other.status, 422);
    // The same key is a different key for another user.
    const gina = await api(url, 'POST', '/v1/ebooks', { token: await token('gina'), body, headers });
    assert.equal(gina.status, 202);
    assert.notEqual(gina.body.id, first.body.id);
  });

  it('sends the paid plans’ books to the priority task queue', async () => {
    const paid = await token('paula');
    await api(url, 'GET', '/v1/users/me/subscription', { token: paid });
    await stack.services.repos.profiles.setSubscription('paula', 'midnights');
    const free = await token('fred');
    const queueOf = async (t: string) => {
      const r = await api(url, 'POST', '/v1/ebooks', { token: t, body: { prompt: 'Queues', chapterCount: 1 } });
      assert.equal(r.status, 202);
      return (await stack.client.workflow.getHandle(r.body.workflowId).describe()).taskQueue;
    };
    assert.equal(await queueOf(paid), stack.config.temporal.priorityTaskQueue);
    assert.equal(await queueOf(free), stack.taskQueue);
    assert.notEqual(stack.config.temporal.priorityTaskQueue, stack.taskQueue);
  });

  it('lets only admins change a subscription', async () => {
    const user = await token('henry');
    await api(url, 'GET', '/v1/users/me/subscription', { token: user });
    const denied = await api(url, 'PUT', '/v1/users/henry/subscription', { token: user, body: { tier: 'midnights' } });
    assert.equal(denied.status, 403);
    const admin = await token('root', 'admin');
    const bad = await api(url, 'PUT', '/v1/users/henry/subscription', { token: admin, body: { tier: 'gold' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.tier');
    const ok = await api(url, 'PUT', '/v1/users/henry/subscription', { token: admin, body: { tier: 'midnights' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.tier, 'midnights');
    assert.equal(ok.body.ebooksPerMonth, null);
    assert.equal((await api(url, 'PUT', '/v1/users/nobody/subscription', { token: admin, body: { tier: 'free' } })).status, 404);
  });

  it('lists a user’s books, paginated, to them and admins only', async () => {
    const ivy = await token('ivy');
    await api(url, 'GET', '/v1/users/me/subscription', { token: ivy });
    await stack.services.repos.profiles.setSubscription('ivy', 'speak_now');
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await api(url, 'POST', '/v1/ebooks', { token: ivy, body: { prompt: `List ${i}`, chapterCount: 1 } });
      assert.equal(r.status, 202);
      ids.push(r.body.id);
    }
    const fourth = await api(url, 'POST', '/v1/ebooks', { token: ivy, body: { prompt: 'One too many' } });
    assert.equal(fourth.status, 402, 'Speak Now allows three a month');
    const page1 = await api(url, 'GET', '/v1/users/me/ebooks?limit=2', { token: ivy });
    assert.equal(page1.status, 200);
    assert.equal(page1.body.items.length, 2);
    assert.ok(page1.body.nextCursor);
    const page2 = await api(url, 'GET', `/v1/users/ivy/ebooks?limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`, { token: ivy });
    assert.equal(page2.body.items.length, 1);
    assert.equal(page2.body.nextCursor, null);
    assert.deepEqual(
      [...page1.body.items, ...page2.body.items].map((b: { id: string }) => b.id).sort(),
      [...ids].sort(),
    );
    assert.equal((await api(url, 'GET', '/v1/users/ivy/ebooks', { token: await token('jack') })).status, 404);
    assert.equal((await api(url, 'GET', '/v1/users/ivy/ebooks', { token: await token('root', 'admin') })).status, 200);
    const bad = await api(url, 'GET', '/v1/users/me/ebooks?limit=500', { token: ivy });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'query.limit');
    const badCursor = await api(url, 'GET', '/v1/users/me/ebooks?cursor=nonsense', { token: ivy });
    assert.equal(badCursor.status, 400);
    assert.equal(badCursor.body.errors[0].field, 'query.cursor');
  });

  it('serves GETs with ETags and answers If-None-Match with 304', async () => {
    const kim = await token('kim');
    const created = await api(url, 'POST', '/v1/ebooks', { token: kim, body: { prompt: 'Etags', chapterCount: 1 } });
    await stack.client.workflow.getHandle(created.body.workflowId).terminate('not needed');
    const id = created.body.id;
    await waitFor('a settled status', async () => {
      const a = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token: kim });
      const b = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token: kim });
      return a.headers.get('etag') === b.headers.get('etag');
    });
    const first = await fetch(`${url}/v1/ebooks/${id}/status`, { headers: { authorization: `Bearer ${kim}` } });
    const etag = first.headers.get('etag');
    assert.ok(etag);
    // node:http, not fetch: fetch marks conditional requests no-cache, which a server must answer in full.
    const again = await new Promise<{ status: number }>((resolve, reject) => {
      http
        .get(`${url}/v1/ebooks/${id}/status`, { headers: { authorization: `Bearer ${kim}`, 'if-none-match': etag! } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0 });
        })
        .on('error', reject);
    });
    assert.equal(again.status, 304);
  });

  it('allows CORS for configured origins only, and sets security headers', async () => {
    const ok = await fetch(`${url}/v1/ebooks`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const other = await fetch(`${url}/healthz`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.equal(other.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(other.headers.get('content-security-policy'));
  });

  it('exposes Prometheus metrics', async () => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /http_requests_total\{method="POST",route="\/v1\/ebooks",status="202"\} \d+/);
    assert.match(text, /http_request_duration_seconds_bucket/);
  });
});
