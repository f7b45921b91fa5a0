/**
 * A whole book through Temporal with real SDK providers against local servers:
 * the primary text provider (Groq) is down, so the book is written by the
 * secondary (OpenAI), and the secondary's 429 `Retry-After` is honoured by
 * Temporal's retry (no call before the delay).
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';

describe('a book with the primary text provider down (Temporal-owned retries and failover)', function () {
  this.timeout(120_000);
  let groq: OpenAICompatServer;
  let openai: OpenAICompatServer;
  let apiUrl: string;
  let token: string;

  before(async () => {
    groq = await startOpenAICompatServer();
    openai = await startOpenAICompatServer();
    groq.setAlways('chat', { kind: 'status', status: 500 });
    // The secondary's first answer is a rate limit: the next call must wait 3 s.
    openai.queue('chat', { kind: 'status', status: 429, headers: { 'retry-after': '3' } });
  });
  const stack = useTestStack(() => ({
    ...providerEnv({ groq, openai }),
    PROVIDER_ATTEMPT_BUDGET: '1',
    PROVIDER_BREAKER_THRESHOLD: '1',
    PROVIDER_BREAKER_COOLDOWN_MS: '600000',
  }));
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'dana' });
  });

  after(async () => {
    await groq?.close();
    await openai?.close();
  });

  it('completes the book on the secondary and respects Retry-After', async () => {
    const created = await api(apiUrl, 'POST', '/v1/ebooks', {
      token,
      body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    const final = await waitFor(
      'the book to complete',
      async () => {
        const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
        if (s.body.status === 'failed') assert.fail(`book failed: ${JSON.stringify(s.body.error)}`);
        return s.body.status === 'completed' && s.body;
      },
      100_000,
    );
    assert.equal(final.progress, 1);

    // Groq was tried once; its circuit then kept every later call away from it.
    assert.equal(groq.callsTo('chat').length, 1);
    const chats = openai.callsTo('chat');
    assert.ok(chats.length >= 1 + 1 + 2, `outline (429 + retry) and two chapters: ${chats.length}`);
    const waited = chats[1].at - chats[0].at;
    assert.ok(waited >= 2990, `the retry after the 429 came ${waited} ms later, Retry-After said 3000`);
    assert.ok(openai.callsTo('images').length >= 3, 'cover and two illustrations drawn by OpenAI');

    const book = await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token });
    assert.equal(book.body.chapters.length, 2);
    for (const c of book.body.chapters) {
      assert.ok(c.paragraphs.join(' ').includes('Mara'), `chapter ${c.index} was written by the server's model`);
      assert.ok(c.words >= 240, `chapter ${c.index} has ${c.words} words`);
      assert.equal(c.textProvider, 'openai', 'the chapter records the provider that wrote it');
      assert.equal(c.imageProvider, 'openai');
    }
    const status = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
    assert.deepEqual(status.body.providers.used, ['openai']);
    assert.equal(status.body.offline, false);
    const calls = await stack.services.knex('ebook_events').where({ ebook_id: id, type: 'provider.call' });
    assert.ok(calls.every((c: { data: { provider: string } }) => c.data.provider === 'openai'));
  });
});
