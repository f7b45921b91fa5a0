/**
 * AI as a service (issue 22): chapters split, titled and rewritten by a workflow
 * from a text or a story; the story route's alias; and a stored picture upscaled
 * to the asked size, locally with sharp (no provider) and through Runware's
 * upscaler (the local Runware-protocol server).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { startRunwareServer, type RunwareServerStub } from '../helpers/provider-servers';
import { signSessionToken } from '../../lib/tokens';
import { pictureKey } from '../../workflows/story-ai-shared';
import { createRunwareImageProvider } from '../../activities/providers/runware-image';

const TEXT = Array.from({ length: 9 }, (_, i) => `Paragraph ${i + 1}: the lighthouse keeper counted ${i + 1} ships before the storm.`).join('\n\n');

async function picture(width: number, height: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 120, b: 40 } } });
  return (format === 'png' ? img.png() : img.jpeg()).toBuffer();
}

/** The size of the picture the API serves at `url`. */
async function servedSize(base: string, url: string, token: string) {
  const res = await fetch(base + url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  return { width: meta.width, height: meta.height, type: res.headers.get('content-type') };
}

describe('AI services: chapters, the story alias, upscaling (offline providers)', function () {
  this.timeout(240_000);
  const stack = useTestStack();
  let url: string;
  let token: string;
  let other: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'cora' });
    other = await signSessionToken(stack.devKeys, { userId: 'dave' });
  });

  const finished = (id: string, t = token) =>
    waitFor(`chapters ${id}`, async () => {
      const res = await api(url, 'GET', `/v1/ai/chapters/${id}`, { token: t });
      return res.body.status !== 'running' && res;
    });

  it('splits a text into titled chapters through a workflow (202, Location, then the result)', async () => {
    const res = await api(url, 'POST', '/v1/ai/generate/chapters', { token, body: { text: TEXT, chapterCount: 3 } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `/v1/ai/chapters/${res.body.id}`);
    const done = await finished(res.body.id);
    assert.equal(done.body.status, 'completed', JSON.stringify(done.body.error));
    const chapters = done.body.chapters as Array<{ index: number; title: string; paragraphs: string[]; words: number }>;
    assert.equal(chapters.length, 3);
    for (const c of chapters) assert.ok(c.title.trim().length > 0 && c.words > 0);
    // Split, not changed: the paragraphs in order are the text's.
    assert.deepEqual(chapters.flatMap((c) => c.paragraphs), TEXT.split('\n\n'));
    // Nobody else reads it.
    assert.equal((await api(url, 'GET', `/v1/ai/chapters/${res.body.id}`, { token: other })).status, 404);
  });

  it('rewrites the chapters when asked, and splits one of the caller’s stories', async () => {
    const story = await api(url, 'POST', '/v1/stories', { token, body: { title: 'Keeper', content: TEXT } });
    assert.equal(story.status, 201);
    const res = await api(url, 'POST', '/v1/ai/generate/chapters', { token, body: { storyId: story.body.id, chapterCount: 2, rewrite: true } });
    assert.equal(res.status, 202);
    const done = await finished(res.body.id);
    assert.equal(done.body.status, 'completed', JSON.stringify(done.body.error));
    assert.equal(done.body.rewrite, true);
    assert.equal(done.body.chapters.length, 2);
    assert.notDeepEqual(done.body.chapters.flatMap((c: { paragraphs: string[] }) => c.paragraphs), TEXT.split('\n\n'));
    // Another user's story is not theirs to split.
    const theirs = await api(url, 'POST', '/v1/ai/generate/chapters', { token: other, body: { storyId: story.body.id, chapterCount: 2 } });
    assert.equal(theirs.status, 404);
  });

  it('refuses a body with both or neither of text and storyId; a text too short for its chapters fails the job', async () => {
    assert.equal((await api(url, 'POST', '/v1/ai/generate/chapters', { token, body: { chapterCount: 2 } })).status, 400);
    assert.equal((await api(url, 'POST', '/v1/ai/generate/chapters', { token, body: { text: 'x', storyId: randomUUID(), chapterCount: 2 } })).status, 400);
    const res = await api(url, 'POST', '/v1/ai/generate/chapters', { token, body: { text: 'Only one paragraph.', chapterCount: 3 } });
    assert.equal(res.status, 202);
    const done = await finished(res.body.id);
    assert.equal(done.body.status, 'failed');
    assert.equal(done.body.error.type, 'BadInput');
  });

  it('answers POST /v1/ai/generate/story as POST /v1/stories/generate', async () => {
    const res = await api(url, 'POST', '/v1/ai/generate/story', { token, body: { prompt: 'A lighthouse that counts ships', chapterCount: 1 } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `/v1/stories/${res.body.id}`);
    const story = await waitFor('story', async () => {
      const s = await api(url, 'GET', `/v1/stories/${res.body.id}`, { token });
      return s.body.status === 'completed' && s;
    });
    assert.ok(story.body.content.length > 0);
  });

  it('upscales a stored picture x2 and x4 locally with sharp, stored as a new picture of the asked size', async () => {
    const profile = await stack.services.repos.profiles.ensure({ clerkUserId: 'cora' });
    const imageId = randomUUID();
    await stack.services.storage.put(pictureKey(profile.id, imageId, 'png'), await picture(64, 48), { contentType: 'image/png' });
    const x2 = await api(url, 'POST', '/v1/ai/enhance/image', { token, body: { imageId, scale: 2 } });
    assert.equal(x2.status, 200, JSON.stringify(x2.body));
    assert.deepEqual([x2.body.width, x2.body.height, x2.body.provider], [128, 96, 'local']);
    assert.notEqual(x2.body.id, imageId);
    assert.deepEqual(await servedSize(url, x2.body.url, token), { width: 128, height: 96, type: 'image/png' });
    const x4 = await api(url, 'POST', '/v1/ai/enhance/image', { token, body: { imageId: x2.body.id, scale: 4, denoise: true } });
    assert.equal(x4.status, 200);
    assert.deepEqual(await servedSize(url, x4.body.url, token), { width: 512, height: 384, type: 'image/png' });
    // Someone else's picture is not there for them; a scale of 3 is not offered.
    assert.equal((await api(url, 'POST', '/v1/ai/enhance/image', { token: other, body: { imageId, scale: 2 } })).status, 404);
    assert.equal((await api(url, 'POST', '/v1/ai/enhance/image', { token, body: { imageId, scale: 3 } })).status, 400);
    assert.equal((await api(url, 'POST', '/v1/ai/enhance/image', { token, body: { scale: 2 } })).status, 400);
  });

  it("upscales a book's chapter illustration", async () => {
    const profile = await stack.services.repos.profiles.ensure({ clerkUserId: 'cora' });
    const ebookId = randomUUID();
    await stack.services.repos.ebooks.create({ id: ebookId, userId: profile.id, workflowId: `ebook-${ebookId}`, prompt: 'p', title: 't' });
    const imageKey = `ebooks/${ebookId}/images/chapter-1.jpg`;
    await stack.services.storage.put(imageKey, await picture(40, 30, 'jpeg'), { contentType: 'image/jpeg' });
    await stack.services.knex('memory_books').where({ id: ebookId }).update({ chapters: JSON.stringify([{ index: 1, title: 'One', imageKey }]) });
    const res = await api(url, 'POST', '/v1/ai/enhance/image', { token, body: { ebookId, chapter: 1, scale: 4 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(await servedSize(url, res.body.url, token), { width: 160, height: 120, type: 'image/jpeg' });
    assert.equal((await api(url, 'POST', '/v1/ai/enhance/image', { token: other, body: { ebookId, chapter: 1, scale: 2 } })).status, 404);
  });
});

describe("AI services: upscaling through Runware's upscaler (local Runware-protocol server)", function () {
  this.timeout(240_000);
  let runware: RunwareServerStub;
  before(async () => {
    runware = await startRunwareServer();
  });
  after(() => runware.close());
  const stack = useTestStack(() => ({ RUNWARE_API_KEY: 'rw-test', RUNWARE_URL: runware.url, IMAGE_PROVIDERS: 'runware', PROVIDER_TIMEOUT_MS: '10000' }));
  let url: string;
  let token: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'rita' });
  });

  it('sends the picture to the upscale task and stores what comes back, at the asked size', async () => {
    const profile = await stack.services.repos.profiles.ensure({ clerkUserId: 'rita' });
    const imageId = randomUUID();
    await stack.services.storage.put(pictureKey(profile.id, imageId, 'png'), await picture(50, 40), { contentType: 'image/png' });
    const res = await api(url, 'POST', '/v1/ai/enhance/image', { token, body: { imageId, scale: 4 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.provider, 'runware');
    const [call] = runware.callsTo('runware-upscale');
    assert.equal(call.body.taskType, 'upscale');
    assert.equal(call.body.upscaleFactor, 4);
    assert.match(call.body.inputImage, /^data:image\/png;base64,/);
    assert.deepEqual(await servedSize(url, res.body.url, token), { width: 200, height: 160, type: 'image/png' });
  });

  it('classifies an upscale error from the provider like its other failures', async () => {
    const provider = createRunwareImageProvider({ apiKey: 'rw-test', url: runware.url, model: 'runware:101@1', timeoutMs: 5000 });
    try {
      runware.queue('runware-upscale', { kind: 'ws-error', code: 'invalidInputImage', message: 'bad picture' });
      await assert.rejects(provider.upscaleImage!({ data: await picture(8, 8), scale: 2 }), (err: { type?: string }) => typeof err.type === 'string');
      const ok = await provider.upscaleImage!({ data: await picture(8, 8, 'jpeg'), scale: 2 });
      assert.deepEqual([ok.width, ok.height, ok.mime], [16, 16, 'image/jpeg']);
    } finally {
      await provider.close();
    }
  });
});
