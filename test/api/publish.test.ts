/**
 * Publishing a book and reading it without a token: private until the owner
 * publishes it (or asked for a public book), `ebook_published` recorded once per
 * book version, the same files under /shared as the owner downloads, and 404 for
 * anything not public. The per-address rate limit covers /shared.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('publish and share a book', function () {
  this.timeout(600_000);
  const stack = useTestStack();
  let url: string;
  let token: string;
  let other: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'penny' });
    other = await signSessionToken(stack.devKeys, { userId: 'quinn' });
    await stack.services.repos.profiles.ensure({ clerkUserId: 'penny' });
    await stack.services.repos.profiles.setSubscription('penny', 'eras_tour');
  });

  const create = async (body: Record<string, unknown>) => {
    const res = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A cartographer maps a city of bells', chapterCount: 2, ...body } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const completed = (id: string) =>
    waitFor(`book ${id}`, async () => (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body.status === 'completed');
  const publishedEvents = async (id: string) =>
    (await stack.services.knex('user_activities').where({ activity_type: 'ebook_published' }).whereRaw(`activity_data->>'ebookId' = ?`, [id]))
      .map((r: { activity_data: { version: number } }) => r.activity_data.version)
      .sort();
  const download = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url + path, { headers });
    return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
  };

  it('a private book is shared only once published, and private again when unpublished', async () => {
    const id = await create({});
    // Not completed yet: nothing to publish.
    const early = await api(url, 'POST', `/v1/ebooks/${id}/publish`, { token });
    await completed(id);
    assert.equal(early.status, 409);
    assert.match(early.headers.get('content-type') ?? '', /problem\+json/);

    const own = (await api(url, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(own.visibility, 'private');
    assert.equal(own.shareUrl, null);
    assert.equal(own.publishedAt, null);
    assert.deepEqual(await publishedEvents(id), [], 'completing a private book publishes nothing');
    const hidden = await api(url, 'GET', `/shared/ebooks/${id}`);
    assert.equal(hidden.status, 404);
    assert.match(hidden.headers.get('content-type') ?? '', /problem\+json/);
    assert.equal((await download(`/shared/ebooks/${id}/files/pdf`)).status, 404);

    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/publish`, { token: other })).status, 404, "another user's book");
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/publish`)).status, 401);

    const published = await api(url, 'POST', `/v1/ebooks/${id}/publish`, { token });
    assert.equal(published.status, 200, JSON.stringify(published.body));
    assert.equal(published.body.id, id);
    assert.equal(published.body.visibility, 'public');
    assert.equal(published.body.shareUrl, `/shared/ebooks/${id}`);
    assert.ok(Date.parse(published.body.publishedAt) > 0);
    const again = await api(url, 'POST', `/v1/ebooks/${id}/publish`, { token });
    assert.equal(again.status, 200);
    assert.equal(again.body.publishedAt, published.body.publishedAt, 'publishing a public book changes nothing');
    assert.deepEqual(await publishedEvents(id), [1]);
    const status = (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body;
    assert.equal(status.visibility, 'public');
    assert.equal(status.shareUrl, `/shared/ebooks/${id}`);

    const shared = await api(url, 'GET', `/shared/ebooks/${id}`);
    assert.equal(shared.status, 200);
    const mine = (await api(url, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(shared.body.title, mine.title);
    assert.equal(shared.body.description, mine.description);
    assert.deepEqual(
      shared.body.chapters.map((c: { index: number; title: string; paragraphs: string[] }) => ({ index: c.index, title: c.title, paragraphs: c.paragraphs })),
      mine.chapters.map((c: { index: number; title: string; paragraphs: string[] }) => ({ index: c.index, title: c.title, paragraphs: c.paragraphs })),
    );
    assert.equal(shared.body.pdfUrl, `/shared/ebooks/${id}/files/pdf?v=1`);
    assert.equal(shared.body.epubUrl, `/shared/ebooks/${id}/files/epub?v=1`);
    assert.equal(shared.body.coverImageUrl, `/shared/ebooks/${id}/files/cover?v=1`);
    for (const [kind, field, type] of [
      ['pdf', 'pdfUrl', 'application/pdf'],
      ['epub', 'epubUrl', 'application/epub+zip'],
      ['cover', 'coverImageUrl', /^image\//],
    ] as const) {
      const pub = await download(shared.body[field]);
      const owner = await download(`/v1/ebooks/${id}/files/${kind}`, { authorization: `Bearer ${token}` });
      assert.equal(pub.status, 200, kind);
      assert.match(pub.type ?? '', typeof type === 'string' ? new RegExp(type.replace('+', '\\+')) : type);
      assert.ok(pub.bytes.equals(owner.bytes), `the shared ${kind} is the owner's`);
    }
    assert.equal((await download(`/shared/ebooks/${id}/files/zip`)).status, 404);
    // Chapter pictures too, the same bytes the owner gets, with their alt text.
    for (const c of shared.body.chapters) {
      assert.equal(c.imageUrl, `/shared/ebooks/${id}/chapters/${c.index}/image?v=1`);
      assert.ok(c.imageAlt, `chapter ${c.index} has alt text`);
      const pub = await download(c.imageUrl);
      const owner = await download(`/v1/ebooks/${id}/chapters/${c.index}/image`, { authorization: `Bearer ${token}` });
      assert.equal(pub.status, 200);
      assert.match(pub.type ?? '', /^image\//);
      assert.ok(pub.bytes.length > 0 && pub.bytes.equals(owner.bytes), `chapter ${c.index}'s shared picture is the owner's`);
    }
    assert.equal((await download(`/shared/ebooks/${id}/chapters/99/image`)).status, 404);
    assert.equal((await download(`/shared/ebooks/${id}/chapters/x/image`)).status, 400);

    const unpublished = await api(url, 'POST', `/v1/ebooks/${id}/unpublish`, { token });
    assert.equal(unpublished.status, 200);
    assert.deepEqual(unpublished.body, { id, visibility: 'private', publishedAt: null, shareUrl: null });
    assert.equal((await api(url, 'GET', `/shared/ebooks/${id}`)).status, 404);
    assert.equal((await download(`/shared/ebooks/${id}/files/cover`)).status, 404);
    assert.equal((await download(`/shared/ebooks/${id}/chapters/1/image`)).status, 404, 'private again: no pictures');

    // Publishing the same version again records nothing new; a new version is a new publication.
    const republished = await api(url, 'POST', `/v1/ebooks/${id}/publish`, { token });
    assert.equal(republished.status, 200);
    assert.deepEqual(await publishedEvents(id), [1]);
    const v1 = (await api(url, 'GET', `/shared/ebooks/${id}`)).body;
    assert.equal(v1.publishedAt, republished.body.publishedAt);
    assert.ok(Date.parse(v1.fileVersionAt) > 0 && Date.parse(v1.fileVersionAt) <= Date.parse(v1.publishedAt), 'version 1 came before it was published');
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token })).status, 202);
    await waitFor('version 2', async () => (await stack.services.repos.ebooks.get(id))!.revision?.status === 'completed');
    assert.deepEqual(await publishedEvents(id), [1, 2]);
    const v2 = (await api(url, 'GET', `/shared/ebooks/${id}`)).body;
    assert.equal(v2.pdfUrl, `/shared/ebooks/${id}/files/pdf?v=2`);
    // A new version does not move when the book was published; it has a time of its own.
    assert.equal(v2.publishedAt, v1.publishedAt, 'publishedAt stays when a new version is published');
    assert.ok(Date.parse(v2.fileVersionAt) > Date.parse(v1.publishedAt), 'fileVersionAt is the new version\'s');
    const ownV2 = (await api(url, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(ownV2.publishedAt, v1.publishedAt);
    assert.equal(ownV2.fileVersionAt, v2.fileVersionAt);

    assert.equal((await api(url, 'DELETE', `/v1/ebooks/${id}`, { token })).status, 204);
    assert.equal((await api(url, 'GET', `/shared/ebooks/${id}`)).status, 404, 'a deleted book is gone');
    assert.equal((await download(`/shared/ebooks/${id}/files/pdf`)).status, 404);
  });

  it('a book asked for as public is shared as soon as it completes, published once', async () => {
    const bad = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'x', visibility: 'friends' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.visibility');

    const id = await create({ visibility: 'public' });
    const running = await api(url, 'GET', `/shared/ebooks/${id}`);
    await completed(id);
    assert.ok(running.status === 404 || running.body.chapters.length === 2, 'an unfinished book is not shown');
    const shared = await api(url, 'GET', `/shared/ebooks/${id}`);
    assert.equal(shared.status, 200);
    assert.equal(shared.body.chapters.length, 2);
    assert.ok(shared.body.chapters.every((c: { paragraphs: string[] }) => c.paragraphs.length > 0));
    assert.ok(shared.body.publishedAt);
    assert.deepEqual(await publishedEvents(id), [1]);
    const generation = (await stack.services.repos.ebooks.get(id))!.generationSettings as Record<string, unknown>;
    assert.equal(generation.visibility, undefined, 'visibility is not part of the brief');
  });

  it('unknown, malformed and not-yet-completed ids answer 404', async () => {
    assert.equal((await api(url, 'GET', `/shared/ebooks/${randomUUID()}`)).status, 404);
    assert.equal((await api(url, 'GET', '/shared/ebooks/not-a-uuid')).status, 404);
    assert.equal((await api(url, 'POST', `/v1/ebooks/${randomUUID()}/unpublish`, { token })).status, 404);
  });
});

describe('/shared rate limit', function () {
  this.timeout(120_000);
  const stack = useTestStack({ RATE_LIMIT_IP_PER_MINUTE: '5' });
  let url: string;
  before(async () => {
    ({ url } = await stack.startApi());
  });

  it('answers 429 with Retry-After past the per-address limit', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await api(url, 'GET', `/shared/ebooks/${randomUUID()}`)).status);
    assert.deepEqual(statuses, [404, 404, 404, 404, 404, 429]);
    const limited = await api(url, 'GET', `/shared/ebooks/${randomUUID()}`);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });
});
