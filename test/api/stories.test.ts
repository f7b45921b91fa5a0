/**
 * Stories (create, read, change, delete, list, views, analytics) and the
 * ebook edits (PUT and DELETE /ebooks/:id), against the real app, PostgreSQL
 * and Temporal.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { createProviders } from '../../wiring/providers';

describe('Stories and ebook edits', function () {
  const stack = useTestStack();
  let url: string;
  const token = (userId: string, role = 'user') => signSessionToken(stack.devKeys, { userId, role });

  before(async () => {
    ({ url } = await stack.startApi());
    // Slow providers: a book stays running long enough to be deleted mid-way.
    await stack.startWorker(createProviders({ ...stack.config, offlineProviderDelayMs: 1000 }));
    // At teardown, before the worker stops: end the books still running.
    stack.defer(async () => {
      for await (const wf of stack.client.workflow.list({ query: `ExecutionStatus = 'Running' AND TaskQueue = '${stack.taskQueue}'` })) {
        await stack.client.workflow.getHandle(wf.workflowId).terminate('test over').catch(() => undefined);
      }
    });
  });

  const profileId = async (clerkId: string) => (await stack.services.repos.profiles.getByClerkId(clerkId))!.id;

  describe('stories', () => {
    it('creates a story (201 + Location) and records story_created once', async () => {
      const ann = await token('ann');
      const res = await api(url, 'POST', '/v1/stories', {
        token: ann,
        body: { title: '  The lake  ', content: 'It was a quiet lake in the hills.', promptData: { era: 'folklore-evermore' } },
      });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/v1/stories/${res.body.id}`);
      assert.equal(res.body.title, 'The lake');
      assert.equal(res.body.status, 'draft');
      assert.equal(res.body.words, 8);
      assert.equal(res.body.userId, 'ann');
      assert.deepEqual(res.body.promptData, { era: 'folklore-evermore' });
      const rows = await stack.services.knex('user_activities').where({ activity_type: 'story_created' });
      assert.equal(rows.length, 1);
      assert.equal(rows[0].dedupe_key, `story_created:${res.body.id}`);

      const get = await api(url, 'GET', `/v1/stories/${res.body.id}`, { token: ann });
      assert.equal(get.status, 200);
      assert.equal(get.body.content, 'It was a quiet lake in the hills.');
    });

    it('refuses invalid stories naming the field', async () => {
      const ann = await token('ann');
      const empty = await api(url, 'POST', '/v1/stories', { token: ann, body: { title: ' ', content: 'x' } });
      assert.equal(empty.status, 400);
      assert.equal(empty.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(empty.body.errors[0].field, 'body.title');
      const long = await api(url, 'POST', '/v1/stories', { token: ann, body: { title: 'x'.repeat(256), content: 'x' } });
      assert.equal(long.body.errors[0].field, 'body.title');
      const noContent = await api(url, 'POST', '/v1/stories', { token: ann, body: { title: 'T' } });
      assert.equal(noContent.body.errors[0].field, 'body.content');
      const extra = await api(url, 'POST', '/v1/stories', { token: ann, body: { title: 'T', content: 'c', owner: 'bob' } });
      assert.equal(extra.status, 400);
      assert.equal(extra.body.errors[0].field, 'body.owner');
      const badMeta = await api(url, 'POST', '/v1/stories', { token: ann, body: { title: 'T', content: 'c', metadata: [1] } });
      assert.equal(badMeta.body.errors[0].field, 'body.metadata');
    });

    it('lets the owner and admins change and see a draft; others get 404 until it is published', async () => {
      const ann = await token('ann');
      const bob = await token('bob');
      const admin = await token('root', 'admin');
      const { body: story } = await api(url, 'POST', '/v1/stories', { token: ann, body: { title: 'Draft', content: 'a b c' } });
      assert.equal((await api(url, 'GET', `/v1/stories/${story.id}`, { token: bob })).status, 404);
      assert.equal((await api(url, 'GET', `/v1/stories/not-a-uuid`, { token: ann })).status, 404);
      assert.equal((await api(url, 'PUT', `/v1/stories/${story.id}`, { token: bob, body: { title: 'Mine' } })).status, 404);
      assert.equal((await api(url, 'GET', `/v1/stories/${story.id}`, { token: admin })).status, 200);

      const bad = await api(url, 'PUT', `/v1/stories/${story.id}`, { token: ann, body: { status: 'generating' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].field, 'body.status');
      const nothing = await api(url, 'PUT', `/v1/stories/${story.id}`, { token: ann, body: {} });
      assert.equal(nothing.status, 400);
      const unknown = await api(url, 'PUT', `/v1/stories/${story.id}`, { token: ann, body: { viewCount: 9 } });
      assert.equal(unknown.body.errors[0].field, 'body.viewCount');

      const put = await api(url, 'PUT', `/v1/stories/${story.id}`, {
        token: ann,
        body: { title: 'Published', status: 'published', metadata: { tag: 'lake' } },
      });
      assert.equal(put.status, 200);
      assert.equal(put.body.title, 'Published');
      assert.equal(put.body.content, 'a b c', 'what the PUT leaves out stays');
      const merged = await api(url, 'PUT', `/v1/stories/${story.id}`, { token: admin, body: { metadata: { mood: 'calm' } } });
      assert.equal(merged.status, 200);
      assert.deepEqual(merged.body.metadata, { tag: 'lake', mood: 'calm' });
      assert.equal(merged.body.userId, 'ann');
      // Published: anyone signed in may read it, only the owner and admins change it.
      assert.equal((await api(url, 'GET', `/v1/stories/${story.id}`, { token: bob })).status, 200);
      assert.equal((await api(url, 'DELETE', `/v1/stories/${story.id}`, { token: bob })).status, 404);
      assert.equal((await api(url, 'GET', `/v1/stories/${story.id}/analytics`, { token: bob })).status, 404);
    });

    it('counts views once per viewer per 30 minutes, and reports analytics', async () => {
      const cat = await token('cat');
      const dan = await token('dan');
      const { body: story } = await api(url, 'POST', '/v1/stories', { token: cat, body: { title: 'Views', content: 'one two three four' } });
      // A draft is the owner's only.
      assert.equal((await api(url, 'POST', `/v1/stories/${story.id}/views`, { token: dan })).status, 404);
      const own = await api(url, 'POST', `/v1/stories/${story.id}/views`, { token: cat });
      assert.equal(own.status, 202);
      assert.equal(own.body.viewCount, 1);
      await api(url, 'PUT', `/v1/stories/${story.id}`, { token: cat, body: { status: 'published' } });

      const first = await api(url, 'POST', `/v1/stories/${story.id}/views`, { token: dan });
      assert.equal(first.status, 202);
      assert.deepEqual([first.body.counted, first.body.viewCount], [true, 2]);
      const repeats = await Promise.all(
        Array.from({ length: 5 }, () => api(url, 'POST', `/v1/stories/${story.id}/views`, { token: dan })),
      );
      for (const r of repeats) assert.deepEqual([r.status, r.body.counted, r.body.viewCount], [202, false, 2]);

      // Half an hour later the same viewer counts again.
      await stack.services.knex('story_views')
        .where({ story_id: story.id, viewer_id: await profileId('dan') })
        .update({ viewed_at: stack.services.knex.raw(`now() - interval '31 minutes'`) });
      const later = await api(url, 'POST', `/v1/stories/${story.id}/views`, { token: dan });
      assert.deepEqual([later.body.counted, later.body.viewCount], [true, 3]);

      // A book made from the story shows in its analytics.
      const [book] = await stack.services
        .knex('memory_books')
        .insert({ user_id: await profileId('cat'), title: 'From the story', original_story_id: story.id, status: 'completed' })
        .returning('id');
      const a = await api(url, 'GET', `/v1/stories/${story.id}/analytics`, { token: cat });
      assert.equal(a.status, 200);
      assert.equal(a.body.viewCount, 3);
      assert.equal(a.body.uniqueViewers, 2);
      assert.equal(a.body.words, 4);
      assert.deepEqual(a.body.ebooks, [{ id: book.id, title: 'From the story', status: 'completed' }]);
      assert.ok(a.body.createdAt && a.body.updatedAt);
    });

    it('lists a user’s stories, paginated, to them and admins only', async () => {
      const eve = await token('eve');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await api(url, 'POST', '/v1/stories', { token: eve, body: { title: `S${i}`, content: 'word '.repeat(i + 1) } })).body.id);
      }
      const p1 = await api(url, 'GET', '/v1/users/me/stories?limit=2', { token: eve });
      assert.equal(p1.status, 200);
      assert.equal(p1.body.items.length, 2);
      assert.equal(p1.body.items[0].id, ids[2], 'newest first');
      assert.equal(p1.body.items[0].content, undefined, 'a list leaves the text out');
      assert.equal(p1.body.items[0].words, 3);
      const p2 = await api(url, 'GET', `/v1/users/eve/stories?limit=2&cursor=${encodeURIComponent(p1.body.nextCursor)}`, { token: eve });
      assert.equal(p2.body.items.length, 1);
      assert.equal(p2.body.nextCursor, null);
      assert.deepEqual([...p1.body.items, ...p2.body.items].map((s: { id: string }) => s.id), [...ids].reverse());
      assert.equal((await api(url, 'GET', '/v1/users/eve/stories', { token: await token('fred') })).status, 404);
      assert.equal((await api(url, 'GET', '/v1/users/eve/stories', { token: await token('root', 'admin') })).body.items.length, 3);
      const bad = await api(url, 'GET', '/v1/users/me/stories?cursor=nope', { token: eve });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].field, 'query.cursor');
      assert.equal((await api(url, 'GET', '/v1/users/me/stories?limit=0', { token: eve })).body.errors[0].field, 'query.limit');
    });

    it('deletes a story; books made from it stay, unlinked', async () => {
      const gus = await token('gus');
      const { body: story } = await api(url, 'POST', '/v1/stories', { token: gus, body: { title: 'Gone', content: 'soon' } });
      const [book] = await stack.services
        .knex('memory_books')
        .insert({ user_id: await profileId('gus'), title: 'Kept', original_story_id: story.id })
        .returning('id');
      assert.equal((await api(url, 'DELETE', `/v1/stories/${story.id}`, { token: await token('hal') })).status, 404);
      assert.equal((await api(url, 'DELETE', `/v1/stories/${story.id}`, { token: gus })).status, 204);
      assert.equal((await api(url, 'GET', `/v1/stories/${story.id}`, { token: gus })).status, 404);
      assert.equal((await api(url, 'DELETE', `/v1/stories/${story.id}`, { token: gus })).status, 404);
      const row = await stack.services.knex('memory_books').where({ id: book.id }).first();
      assert.equal(row.original_story_id, null);
    });
  });

  describe('ebook edits', () => {
    it('changes a finished book’s title and description, naming bad fields', async () => {
      const ida = await token('ida');
      const created = await api(url, 'POST', '/v1/ebooks', { token: ida, body: { prompt: 'Edit me', chapterCount: 1 } });
      assert.equal(created.status, 202);
      const id = created.body.id;
      // Still generating: the outline would overwrite an edited title.
      const early = await api(url, 'PUT', `/v1/ebooks/${id}`, { token: ida, body: { title: 'Too soon' } });
      assert.equal(early.status, 409);
      await stack.client.workflow.getHandle(created.body.workflowId).terminate('not needed');
      await stack.services.knex('memory_books').where({ id }).update({ status: 'completed', stage: 'completed' });

      const bad = await api(url, 'PUT', `/v1/ebooks/${id}`, { token: ida, body: { title: '' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].field, 'body.title');
      const other = await api(url, 'PUT', `/v1/ebooks/${id}`, { token: ida, body: { prompt: 'new prompt' } });
      assert.equal(other.status, 400);
      assert.equal(other.body.errors[0].field, 'body.prompt');
      const longDesc = await api(url, 'PUT', `/v1/ebooks/${id}`, { token: ida, body: { description: 'x'.repeat(5001) } });
      assert.equal(longDesc.body.errors[0].field, 'body.description');
      assert.equal((await api(url, 'PUT', `/v1/ebooks/${id}`, { token: ida, body: {} })).status, 400);
      assert.equal((await api(url, 'PUT', `/v1/ebooks/${id}`, { token: await token('jon'), body: { title: 'Mine' } })).status, 404);

      const ok = await api(url, 'PUT', `/v1/ebooks/${id}`, { token: ida, body: { title: 'A better title', description: 'About a lake.' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.title, 'A better title');
      const get = await api(url, 'GET', `/v1/ebooks/${id}`, { token: ida });
      assert.equal(get.body.title, 'A better title');
      assert.equal(get.body.description, 'About a lake.');
      const byAdmin = await api(url, 'PUT', `/v1/ebooks/${id}`, { token: await token('root', 'admin'), body: { title: 'Admin fix' } });
      assert.equal(byAdmin.status, 200);
      assert.equal((await api(url, 'GET', `/v1/ebooks/${id}`, { token: ida })).body.title, 'Admin fix');
    });

    it('deletes a running book: cancels its workflow and gives the allowance back', async () => {
      const kay = await token('kay');
      const created = await api(url, 'POST', '/v1/ebooks', { token: kay, body: { prompt: 'Delete me while running', chapterCount: 3 } });
      assert.equal(created.status, 202);
      const { id, workflowId } = created.body;
      await waitFor('the book to run', async () => {
        const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token: kay });
        return s.body.status === 'running';
      });
      assert.equal((await api(url, 'GET', '/v1/users/me/subscription', { token: kay })).body.usedThisPeriod, 1);
      assert.equal((await api(url, 'DELETE', `/v1/ebooks/${id}`, { token: await token('lou') })).status, 404);

      const del = await api(url, 'DELETE', `/v1/ebooks/${id}`, { token: kay });
      assert.equal(del.status, 204);
      const described = await stack.client.workflow.getHandle(workflowId).describe();
      assert.equal(described.status.name, 'CANCELLED');
      assert.equal((await api(url, 'GET', `/v1/ebooks/${id}`, { token: kay })).status, 404);
      assert.equal(await stack.services.knex('memory_books').where({ id }).first(), undefined);
      assert.equal((await api(url, 'GET', '/v1/users/me/subscription', { token: kay })).body.usedThisPeriod, 0);
      // The free plan's one book is available again.
      assert.equal((await api(url, 'POST', '/v1/ebooks', { token: kay, body: { prompt: 'Again', chapterCount: 1 } })).status, 202);
    });
  });
});
