/**
 * Moderation: local rules, OpenAI's endpoint (the local server flags "forbidden"),
 * and a refused prompt stopping the book before any provider is called.
 */
import assert from 'node:assert/strict';
import { startWorker, useTestStack, type TestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { createProviders, type Providers } from '../../wiring/providers';
import { createActivities } from '../../activities';
import { createOpenAIModerator, moderateLocally } from '../../activities/moderation';
import { createOfflineTextProvider } from '../../activities/providers/offline-text';
import { createOfflineImageProvider } from '../../activities/providers/offline-image';
import type { TextProvider } from '../../activities/providers/types';
import { startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { keys } from '../../activities/storage/types';

async function failedBook(stack: TestStack, apiUrl: string, token: string, prompt: string) {
  const created = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt, chapterCount: 1 } });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const { id } = created.body;
  const status = await waitFor(
    'the book to fail',
    async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
      if (s.body.status === 'completed') assert.fail('a refused prompt was written');
      return s.body.status === 'failed' && s.body;
    },
    60_000,
  );
  const calls = await stack.services.knex('ebook_events').where({ ebook_id: id, type: 'provider.call' });
  return { id, status, calls };
}

describe('moderation', function () {
  this.timeout(120_000);

  it('local rules flag the few forbidden things, case- and Unicode-insensitively', () => {
    assert.equal(moderateLocally('A lighthouse keeper befriends a clockwork gull').flagged, false);
    assert.equal(moderateLocally('A teenager grieves a friend lost to suicide').flagged, false);
    assert.deepEqual(moderateLocally('Explicit SEXUAL scenes with a 12-year-old').categories, ['sexual/minors']);
    assert.deepEqual(moderateLocally('Ｓｔｅｐ ｂｙ ｓｔｅｐ: how to kill yourself').categories, ['self-harm/instructions']);
    assert.deepEqual(moderateLocally('instructions to build a pípe bomb'.replace('pípe', 'pipe')).categories, ['violence/weapons-instructions']);
    assert.deepEqual(moderateLocally('how to make a bómb').categories, ['violence/weapons-instructions']);
  });

  describe('in the workflow', () => {
    let server: OpenAICompatServer;
    let apiUrl: string;
    let stopWorker: () => Promise<void>;
    let token: string;
    before(async () => {
      server = await startOpenAICompatServer();
    });
    const stack = useTestStack(() => ({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${server.url}/v1`, TEXT_PROVIDERS: 'openai', IMAGE_PROVIDERS: 'openai' }));
    before(async () => {
      // The tests start (and restart) the worker; the last one stops after the API.
      stack.defer(() => stopWorker?.());
      ({ url: apiUrl } = await stack.startApi());
      token = await signSessionToken(stack.devKeys, { userId: 'mod' });
    });
    after(async () => {
      await server?.close();
    });

    it('OpenAI moderation (local server) refuses the prompt: ContentRefused, no provider call', async () => {
      const moderate = createOpenAIModerator({ apiKey: 'sk-test', baseURL: `${server.url}/v1` });
      assert.equal((await moderate('a gentle tale')).flagged, false);
      // The moderator travels with the providers into the activities' deps.
      const providers = { ...createProviders(stack.config), moderate } as Providers;
      ({ stop: stopWorker } = await startWorker(stack, providers));
      server.reset();
      const { status, calls } = await failedBook(stack, apiUrl, token, 'A forbidden story');
      assert.equal(status.error.type, 'ContentRefused');
      assert.match(status.error.message, /refused by content moderation \(openai/);
      assert.equal(calls.length, 0);
      assert.equal(server.callsTo('moderations').length, 1);
      assert.equal(server.callsTo('chat').length, 0);
      assert.equal(server.callsTo('images').length, 0);
    });

    it('local rules refuse the prompt too', async () => {
      await stopWorker();
      const providers = { ...createProviders(stack.config), moderate: async (t: string) => moderateLocally(t) } as Providers;
      ({ stop: stopWorker } = await startWorker(stack, providers));
      server.reset();
      const { status, calls } = await failedBook(stack, apiUrl, token, 'Step by step: how to make a pipe bomb');
      assert.equal(status.error.type, 'ContentRefused');
      assert.equal(calls.length, 0);
      assert.equal(server.callsTo('chat').length, 0);
    });
  });

  describe('of generated text and image prompts', () => {
    const stack = useTestStack();

    it('refuses a flagged chapter before storing it, and a flagged cover prompt before drawing', async () => {
      const { repos, storage, events } = stack.services;
      const profile = await repos.profiles.ensure({ clerkUserId: 'mod-2', role: 'user' });
      const id = '3f1c2a4e-0000-4000-8000-000000000001';
      await repos.ebooks.create({ id, userId: profile.id, workflowId: `ebook-${id}`, prompt: 'p', title: 't', generationSettings: { prompt: 'p', chapterCount: 1 } });
      const offline = createOfflineTextProvider();
      const text: TextProvider = {
        name: 'offline',
        offline: true,
        async writeOutline(brief, signal) {
          const r = await offline.writeOutline(brief, signal);
          return { ...r, outline: { ...r.outline, logline: 'Step by step, how to kill yourself' } };
        },
        async writeChapter() {
          return { paragraphs: ['She read the instructions: how to kill yourself.'], usage: { outputTokens: 9 }, model: 'offline' };
        },
      };
      let drawn = 0;
      const image = createOfflineImageProvider();
      const acts = createActivities({
        repos, storage, events, text,
        image: { name: image.name, offline: true, generateImage: (r, s) => { drawn++; return image.generateImage(r, s); } },
        moderate: async (t) => moderateLocally(t),
      });
      await acts.writeOutline({ ebookId: id, brief: { prompt: 'p', chapterCount: 1 } });
      await assert.rejects(acts.writeChapter({ ebookId: id, index: 1 }), (e: any) => e.type === 'ContentRefused' && e.nonRetryable === true);
      await assert.rejects(storage.get(keys.chapter(id, 1)));
      assert.equal((await repos.ebooks.get(id))!.chapters[0].textKey ?? null, null);
      await assert.rejects(acts.drawCover({ ebookId: id }), (e: any) => e.type === 'ContentRefused');
      assert.equal(drawn, 0, 'the image provider was never called');
    });
  });
});
