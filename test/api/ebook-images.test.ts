/**
 * GET /v1/ebooks/{id}/chapters/{n}/image against the real app, database and
 * local storage: the owner gets the picture (with an ETag that revalidates),
 * anyone else "not found", and bad chapter numbers are named.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { keys } from '../../activities/storage/types';

describe('chapter illustrations API', function () {
  this.timeout(60_000);
  const stack = useTestStack();
  let url: string;
  let owner: string;
  let other: string;
  let bookId: string;
  let png: Buffer;
  const alt = 'Illustration for chapter 1, “The Gull”: a brass bird on a rail';

  before(async () => {
    ({ url } = await stack.startApi());
    owner = await signSessionToken(stack.devKeys, { userId: 'erin' });
    other = await signSessionToken(stack.devKeys, { userId: 'frank' });
    const { repos, storage } = stack.services;
    const profile = await repos.profiles.ensure({ clerkUserId: 'erin' });
    await repos.profiles.ensure({ clerkUserId: 'frank' });
    bookId = randomUUID();
    await repos.ebooks.create({ id: bookId, userId: profile.id, workflowId: `ebook-${bookId}`, prompt: 'A gull', title: 'Untitled book' });
    await repos.ebooks.saveOutline(bookId, {
      title: 'The Clockwork Gull',
      chapters: [
        { index: 1, title: 'The Gull', status: 'pending' },
        { index: 2, title: 'The Storm', status: 'pending' },
      ],
    });
    png = await sharp({ create: { width: 12, height: 8, channels: 3, background: '#8a3a12' } }).png().toBuffer();
    const key = keys.illustration(bookId, 1, 'png');
    await storage.put(key, png, { contentType: 'image/png' });
    await repos.ebooks.setChapter(bookId, 1, { status: 'done', imageKey: key, imageAlt: alt });
  });

  const image = (n: string | number, token?: string, headers?: Record<string, string>) =>
    fetch(`${url}/v1/ebooks/${bookId}/chapters/${n}/image`, {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });

  it('gives the owner the image with its alt text, an ETag and revalidation', async () => {
    const res = await image(1, owner);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
    assert.equal(decodeURIComponent(res.headers.get('x-image-alt') ?? ''), alt);
    assert.match(res.headers.get('cache-control') ?? '', /private/);
    const etag = res.headers.get('etag');
    assert.match(etag ?? '', /^"[\w-]+"$/);
    const again = await image(1, owner, { 'if-none-match': etag! });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  });

  it('changes the ETag when the chapter gets a new picture', async () => {
    const before = (await image(1, owner)).headers.get('etag');
    const { repos, storage } = stack.services;
    const redrawn = await sharp({ create: { width: 16, height: 8, channels: 3, background: '#1a5fb4' } }).png().toBuffer();
    const key = keys.illustration(bookId, 1, 'png', 2);
    await storage.put(key, redrawn, { contentType: 'image/png' });
    await repos.ebooks.setChapter(bookId, 1, { imageKey: key });
    const res = await image(1, owner, { 'if-none-match': before! });
    assert.equal(res.status, 200, 'the old ETag no longer matches');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), redrawn);
    assert.notEqual(res.headers.get('etag'), before);
    png = redrawn;
  });

  it("answers 404 to another user, as if the book did not exist", async () => {
    const theirs = await api(url, 'GET', `/v1/ebooks/${bookId}/chapters/1/image`, { token: other });
    assert.equal(theirs.status, 404);
    assert.equal(theirs.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const none = await api(url, 'GET', `/v1/ebooks/${randomUUID()}/chapters/1/image`, { token: owner });
    assert.equal(none.status, 404);
    assert.equal(theirs.body.detail, none.body.detail, 'no hint that the book exists');
    assert.equal((await api(url, 'GET', `/v1/ebooks/not-a-uuid/chapters/1/image`, { token: owner })).status, 404);
    assert.equal((await image(1)).status, 401, 'no token, no picture');
  });

  it('answers 404 while the chapter is not illustrated yet', async () => {
    const r = await api(url, 'GET', `/v1/ebooks/${bookId}/chapters/2/image`, { token: owner });
    assert.equal(r.status, 404);
    assert.match(r.body.detail, /chapter 2 is not ready yet/);
  });

  it('names a bad chapter number (400) and answers 404 past the last chapter', async () => {
    for (const n of ['abc', '0', '1.5', '-1']) {
      const r = await api(url, 'GET', `/v1/ebooks/${bookId}/chapters/${n}/image`, { token: owner });
      assert.equal(r.status, 400, `n=${n}`);
      assert.equal(r.body.errors[0].field, 'params.n', `n=${n}`);
    }
    const past = await api(url, 'GET', `/v1/ebooks/${bookId}/chapters/3/image`, { token: owner });
    assert.equal(past.status, 404);
    assert.match(past.body.detail, /Chapter not found/);
  });
});
