/**
 * Erasure through the real stack with S3 storage (s3rver in its own process):
 * deleting a book, an admin's DELETE /v1/users/{id} and Clerk's user.deleted each
 * run an erasure workflow; the bucket is listed before and after, and nothing of
 * the book or the user is left in it or in the database, while another user's
 * things stay. Each writes an audit entry with counts and no content.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'svix';
import { createTestStack, startApi, startWorker, type TestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { s3rverCompatible, startS3Server, type S3TestServer } from '../helpers/s3';
import { signSessionToken } from '../../lib/tokens';
import type { S3Storage } from '../../activities/storage/s3';
import { eraseUserWorkflowId } from '../../workflows/shared';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;

describe('erasure (book, admin, Clerk user.deleted) with S3 storage', function () {
  this.timeout(600_000);
  let s3: S3TestServer;
  let stack: TestStack;
  let url: string;
  const stops: Array<() => Promise<void>> = [];
  const token = (userId: string, role = 'user') => signSessionToken(stack.devKeys, { userId, role });

  before(async () => {
    s3 = await startS3Server();
    // Offline providers with a little latency, so a book can still be running when its owner is erased.
    stack = await createTestStack({ ...s3.env, CLERK_WEBHOOK_SIGNING_SECRET: SECRET, OFFLINE_PROVIDER_DELAY_MS: '300' });
    assert.equal(stack.services.storage.kind, 's3');
    s3rverCompatible((stack.services.storage as S3Storage).client);
    const apiServer = await startApi(stack);
    url = apiServer.url;
    stops.push(apiServer.stop);
    stops.push((await startWorker(stack)).stop);
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await stack?.close();
    await s3?.stop();
  });

  const finishedBook = async (tok: string, extra: Record<string, unknown> = {}) => {
    const started = await api(url, 'POST', '/v1/ebooks', { token: tok, body: { prompt: 'A lantern that remembers', chapterCount: 1, ...extra } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body.id as string;
    await waitFor(`book ${id}`, async () => {
      const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token: tok });
      if (s.body.status === 'failed') throw new Error(JSON.stringify(s.body));
      return s.body.status === 'completed';
    }, 240_000);
    return id;
  };
  const profileIdOf = async (clerkUserId: string) =>
    (await stack.services.knex('profiles').where({ clerk_user_id: clerkUserId }).first('id'))?.id as string | undefined;
  const rows = async (table: string, where: Record<string, string>) =>
    Number((await stack.services.knex(table).where(where).count<{ n: string }[]>({ n: '*' }))[0].n);

  it('DELETE /v1/ebooks/{id}: rows, every file version, pictures, cover, drafts and outline go; others stay', async () => {
    const amy = await token('amy-erase');
    const bob = await token('bob-erase');
    const book = await finishedBook(amy);
    const kept = await finishedBook(bob);
    // A second file version, so "every version" means more than one.
    const pdf = await api(url, 'POST', `/v1/ebooks/${book}/pdf`, { token: amy });
    assert.equal(pdf.status, 202, JSON.stringify(pdf.body));
    await waitFor('the v2 PDF', async () => (await s3.list(`ebooks/${book}/v2/`)).some((k) => k.endsWith('book.pdf')), 240_000);
    await waitFor('the revision to finish', async () => {
      const s = await api(url, 'GET', `/v1/ebooks/${book}/status`, { token: amy });
      return s.body.revision?.status === 'completed';
    });
    // Read once, so the chapter text is cached too.
    assert.equal((await api(url, 'GET', `/v1/ebooks/${book}`, { token: amy })).status, 200);

    const before = await s3.list(`ebooks/${book}/`);
    for (const part of ['outline.json', 'chapters/01.json', 'images/chapter-01.', 'images/cover.', 'draft/book.pdf', 'v1/book.pdf', 'v1/book.epub', 'v2/book.pdf']) {
      assert.ok(before.some((k) => k.includes(part)), `before: ${part} in ${before.join(', ')}`);
    }
    const othersBefore = await s3.list(`ebooks/${kept}/`);
    assert.ok(othersBefore.length > 0);

    const del = await api(url, 'DELETE', `/v1/ebooks/${book}`, { token: amy });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    assert.deepEqual(await s3.list(`ebooks/${book}/`), []);
    assert.equal(await rows('memory_books', { id: book }), 0);
    assert.equal(await rows('ebook_events', { ebook_id: book }), 0);
    assert.equal((await api(url, 'GET', `/v1/ebooks/${book}`, { token: amy })).status, 404);
    // Bob's book is untouched.
    assert.deepEqual(await s3.list(`ebooks/${kept}/`), othersBefore);
    assert.equal((await api(url, 'GET', `/v1/ebooks/${kept}`, { token: bob })).status, 200);

    const [audit] = await stack.services.repos.erasure.entries('ebook', book);
    assert.ok(audit, 'an audit entry');
    assert.equal(audit.requested_by, 'amy-erase');
    assert.equal(audit.source, 'api');
    assert.equal(audit.counts.books, 1);
    assert.equal(audit.counts.objects, before.length);
    assert.ok(!JSON.stringify(audit).includes('lantern'), 'no content in the audit entry');
  });

  it("DELETE /v1/users/{id} (admin): cancels the user's running book, erases their rows and every stored object", async () => {
    const cid = 'carol-erase';
    const carol = await token(cid);
    const done = await finishedBook(carol);
    const story = await api(url, 'POST', '/v1/stories', { token: carol, body: { title: 'Hand-written', content: 'Once upon a time.' } });
    assert.equal(story.status, 201);
    const generated = await api(url, 'POST', '/v1/stories/generate', { token: carol, body: { prompt: 'A fox learns to sail', chapterCount: 1 } });
    assert.equal(generated.status, 202, JSON.stringify(generated.body));
    await waitFor('the generated story', async () => (await api(url, 'GET', `/v1/stories/${generated.body.id}`, { token: carol })).body.status === 'completed', 240_000);
    const picture = await api(url, 'POST', '/v1/ai/generate/image', { token: carol, body: { prompt: 'A red kite' }, headers: { 'idempotency-key': 'kite-1' } });
    assert.equal(picture.status, 200, JSON.stringify(picture.body));
    // Upgrade, so a second book is allowed, and leave it running.
    const admin = await token('root-erase', 'admin');
    assert.equal((await api(url, 'PUT', `/v1/users/${cid}/subscription`, { token: admin, body: { tier: 'eras_tour' } })).status, 200);
    const running = await api(url, 'POST', '/v1/ebooks', { token: carol, body: { prompt: 'A long road', chapterCount: 12 } });
    assert.equal(running.status, 202);
    await waitFor('the second book to store something', async () => (await s3.list(`ebooks/${running.body.id}/`)).length > 0, 120_000);

    const profileId = (await profileIdOf(cid))!;
    const mine = [`ebooks/${done}/`, `ebooks/${running.body.id}/`, `stories/${generated.body.id}/`, `users/${profileId}/`];
    for (const prefix of mine) assert.ok((await s3.list(prefix)).length > 0, `before: something under ${prefix}`);
    const everythingElse = (await s3.list()).filter((k) => !mine.some((p) => k.startsWith(p)));

    assert.equal((await api(url, 'DELETE', `/v1/users/${cid}`, { token: carol })).status, 403);
    const del = await api(url, 'DELETE', `/v1/users/${cid}`, { token: admin });
    assert.equal(del.status, 202, JSON.stringify(del.body));
    assert.equal(del.body.workflowId, eraseUserWorkflowId(cid));
    const counts = await stack.client.workflow.getHandle(del.body.workflowId).result();
    assert.ok(counts.runsStopped >= 1, JSON.stringify(counts));

    // Nothing of Carol's in the bucket; everyone else's exactly as it was.
    const after = await s3.list();
    assert.deepEqual(after.filter((k) => mine.some((p) => k.startsWith(p)) || k.includes(profileId)), []);
    assert.deepEqual(after.filter((k) => !mine.some((p) => k.startsWith(p))), everythingElse);
    // Nor in the database.
    assert.equal(await profileIdOf(cid), undefined);
    assert.equal(await rows('memory_books', { user_id: profileId }), 0);
    assert.equal(await rows('stories', { user_id: profileId }), 0);
    assert.equal(await rows('user_activities', { user_id: profileId }), 0);
    assert.equal(await rows('cost_ledger', { user_id: profileId }), 0);
    assert.equal(await rows('idempotency_keys', { user_id: cid }), 0);
    // The running book's workflow was stopped, not left writing into storage.
    const run = await stack.client.workflow.getHandle(`ebook-${running.body.id}`).describe();
    assert.notEqual(run.status.name, 'RUNNING');

    const [audit] = await stack.services.repos.erasure.entries('user', cid);
    assert.equal(audit.requested_by, 'root-erase');
    assert.equal(audit.source, 'admin');
    assert.equal(audit.counts.profiles, 1);
    assert.equal(audit.counts.books, 2);
    assert.ok(audit.counts.objects >= 4, JSON.stringify(audit.counts));
    assert.ok(!/lantern|fox|kite|Once upon/i.test(JSON.stringify(audit)), 'no content in the audit entry');
    assert.equal((await api(url, 'DELETE', `/v1/users/${cid}`, { token: admin })).status, 404);
  });

  it("Clerk's user.deleted erases the user as a workflow, once per event", async () => {
    const cid = 'dave-erase';
    const dave = await token(cid);
    const book = await finishedBook(dave);
    const profileId = (await profileIdOf(cid))!;
    assert.ok((await s3.list(`ebooks/${book}/`)).length > 0);

    const body = JSON.stringify({ type: 'user.deleted', object: 'event', data: { id: cid, object: 'user', deleted: true } });
    const deliver = (id: string) => {
      const when = new Date();
      return api(url, 'POST', '/v1/auth/clerk/webhook', {
        raw: body,
        headers: {
          'svix-id': id,
          'svix-timestamp': String(Math.floor(when.getTime() / 1000)),
          'svix-signature': new Webhook(SECRET).sign(id, when, body),
        },
      });
    };
    const first = await deliver('msg_erase_1');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((await deliver('msg_erase_1')).body.duplicate, true);
    await stack.client.workflow.getHandle(eraseUserWorkflowId(cid)).result();

    assert.deepEqual(await s3.list(`ebooks/${book}/`), []);
    assert.deepEqual(await s3.list(`users/${profileId}/`), []);
    assert.equal(await profileIdOf(cid), undefined);
    assert.equal(await rows('memory_books', { id: book }), 0);
    const [audit] = await stack.services.repos.erasure.entries('user', cid);
    assert.equal(audit.requested_by, 'clerk');
    assert.equal(audit.source, 'clerk-webhook');
  });
});
