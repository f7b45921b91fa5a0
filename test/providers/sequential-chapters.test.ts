/**
 * chapterMode 'sequential' through the whole workflow, with the Groq SDK against
 * the local server recording every request: the chapters are written one at a
 * time, and each request carries the end of the chapter before it as written.
 * A parallel book on the same stack is the contrast.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { providerEnv, startOpenAICompatServer, type Call, type OpenAICompatServer } from '../helpers/provider-servers';

describe('sequential chapters (chapterMode)', function () {
  this.timeout(240_000);
  let groq: OpenAICompatServer;
  let apiUrl: string;
  let token: string;

  before(async () => {
    groq = await startOpenAICompatServer();
    // A slow-ish model, so chapters written at once would overlap in time.
    groq.setAlways('chat', { kind: 'chapter', words: 300, chunkDelayMs: 4 });
  });
  const stack = useTestStack(() => ({ ...providerEnv({ groq }), CHAPTER_CONCURRENCY: '4' }));
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'sol', role: 'admin' });
  });

  after(async () => {
    await groq?.close();
  });

  /** Starts a book and waits for it; returns it with the chapter calls the server saw for it. */
  async function writeBook(prompt: string, extra: Record<string, unknown>) {
    // A user per book: the free plan allows one a month.
    const token = await signSessionToken(stack.devKeys, { userId: `sol-${extra.chapterMode ?? 'default'}` });
    const created = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt, chapterCount: 3, ...extra } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    await waitFor(
      `book ${id} to complete`,
      async () => {
        const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
        if (s.body.status === 'failed') assert.fail(`book failed: ${JSON.stringify(s.body.error)}`);
        return s.body.status === 'completed';
      },
      200_000,
    );
    const book = (await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token })).body;
    const userText = (c: Call) => String(c.body.messages.find((m: { role: string }) => m.role === 'user').content);
    const calls = groq
      .callsTo('chat')
      .filter((c) => c.body.stream && String(c.body.messages[0].content).includes(book.title))
      .filter((c) => book.chapters.some((ch: { title: string }) => userText(c).includes(`"${ch.title}"`)));
    const byChapter = (n: number) => calls.filter((c) => userText(c).includes(`Write chapter ${n},`));
    return { id, book, calls, byChapter, userText };
  }

  it('refuses an unknown chapterMode, naming the field', async () => {
    const res = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt: 'x', chapterMode: 'shuffled' } });
    assert.equal(res.status, 400);
    assert.ok(res.body.errors.some((e: { field: string }) => e.field === 'body.chapterMode'), JSON.stringify(res.body));
  });

  it('writes one chapter at a time, each request carrying the previous chapter as written', async () => {
    groq.calls.length = 0;
    const { book, byChapter, userText } = await writeBook('A clockmaker and a lost key, told in order', { chapterMode: 'sequential' });
    assert.equal(book.chapters.length, 3);
    const firsts = [1, 2, 3].map((n) => {
      const calls = byChapter(n);
      assert.equal(calls.length, 1, `one call for chapter ${n}`);
      return calls[0];
    });
    for (let n = 1; n < 3; n++) {
      const prev = firsts[n - 1];
      const next = firsts[n];
      assert.ok(prev.endAt !== undefined && prev.endAt <= next.at, `chapter ${n + 1} started ${next.at - (prev.endAt ?? 0)} ms after chapter ${n} ended`);
      // The previous chapter's written text (its end, as stored and served) is in the request.
      const written = (book.chapters[n - 1].paragraphs as string[]).join('\n\n');
      const quoted = /ends like this:\n<<<\n([\s\S]*?)\n>>>/.exec(userText(next))?.[1];
      assert.ok(quoted, `chapter ${n + 1}'s request has the previous ending`);
      assert.ok(quoted.length >= 300, `a real part of it (${quoted.length} chars)`);
      assert.ok(written.endsWith(quoted), `chapter ${n + 1}'s request quotes the end of chapter ${n} as written`);
    }
    assert.ok(!userText(firsts[0]).includes('ends like this'), 'the first chapter has nothing before it');
  });

  it('the default (parallel) writes chapters at once, from the outline alone', async () => {
    groq.calls.length = 0;
    const { book, byChapter, userText } = await writeBook('A clockmaker and a lost key, all at once', {});
    assert.equal(book.chapters.length, 3);
    const calls = [1, 2, 3].map((n) => byChapter(n)[0]);
    assert.ok(calls.every((c) => c && !userText(c).includes('ends like this')));
    const overlapping = calls.some((a) => calls.some((b) => a !== b && a.at < b.at && b.at < (a.endAt ?? Infinity)));
    assert.ok(overlapping, 'at least two chapter calls ran at the same time');
  });
});
