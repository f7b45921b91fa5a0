/**
 * GET /v1/ebooks/{id}/status through the real app: answers reused for a second
 * (one database read per book per second, whatever the number of pollers), a
 * change made through this API visible at once, a change made elsewhere (the
 * worker) within the second, and ETag / If-None-Match.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('status answers (the status cache)', function () {
  const stack = useTestStack();
  let url: string;
  let token: string;
  let otherToken: string;
  let id: string;
  let reads = 0;
  const countReads = (q: { sql: string }) => {
    if (/from "memory_books"/.test(q.sql)) reads++;
  };

  before(async () => {
    ({ url } = await stack.startApi());
    token = await signSessionToken(stack.devKeys, { userId: 'dora' });
    otherToken = await signSessionToken(stack.devKeys, { userId: 'eve' });
    const { repos } = stack.services;
    const owner = await repos.profiles.ensure({ clerkUserId: 'dora' });
    await repos.profiles.ensure({ clerkUserId: 'eve' });
    id = randomUUID();
    await repos.ebooks.create({ id, userId: owner.id, workflowId: `ebook-${id}`, prompt: 'p', title: 'First title' });
    await repos.ebooks.updateStatus(id, { status: 'completed', stage: 'done' });
    stack.services.knex.on('query', countReads);
    stack.defer(() => stack.services.knex.off('query', countReads));
  });

  it('serves repeated polls from one read, keeps other users out, and shows its own changes at once', async () => {
    const first = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
    assert.equal(first.status, 200);
    assert.equal(first.body.title, 'First title');
    const readsAfterFirst = reads;
    for (let i = 0; i < 5; i++) {
      const again = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('etag'), first.headers.get('etag'));
    }
    assert.equal(reads, readsAfterFirst, 'five more polls, no more reads of the book');

    assert.equal((await api(url, 'GET', `/v1/ebooks/${id}/status`, { token: otherToken })).status, 404, 'another user');

    const unchanged = await api(url, 'GET', `/v1/ebooks/${id}/status`, {
      token,
      // As a browser revalidates (fetch alone would add Cache-Control: no-cache, which asks for a full answer).
      headers: { 'if-none-match': first.headers.get('etag')!, 'cache-control': 'max-age=0' },
    });
    assert.equal(unchanged.status, 304);

    // A change through this API: the next poll shows it, no waiting.
    const put = await api(url, 'PUT', `/v1/ebooks/${id}`, { token, body: { title: 'Second title' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const after = await api(url, 'GET', `/v1/ebooks/${id}/status`, {
      token,
      // As a browser revalidates (fetch alone would add Cache-Control: no-cache, which asks for a full answer).
      headers: { 'if-none-match': first.headers.get('etag')!, 'cache-control': 'max-age=0' },
    });
    assert.equal(after.status, 200);
    assert.equal(after.body.title, 'Second title');
    assert.notEqual(after.headers.get('etag'), first.headers.get('etag'));
  });

  it('shows a change made elsewhere (as the worker makes them) within a second', async () => {
    const before = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
    await stack.services.knex('memory_books').where({ id }).update({ title: 'Written by the worker', updated_at: stack.services.knex.fn.now() });
    const deadline = Date.now() + 1_500;
    let seen = before.body.title;
    while (seen !== 'Written by the worker' && Date.now() < deadline) {
      seen = (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body.title;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(seen, 'Written by the worker');
  });
});
