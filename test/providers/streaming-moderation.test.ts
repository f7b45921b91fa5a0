/**
 * Chapter text is moderated before clients see it: a whole book through
 * Temporal, the real API (SSE) and the Groq SDK against the local server, whose
 * streamed chapter turns to text the local rules refuse. With TEST_REDIS_URL the
 * stack runs on REDIS_URL, so the events also travel over Redis pub/sub.
 */
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { prose, providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { collectSse } from './sse-client';
import { createOpenAIModerator } from '../../activities/moderation';
import { createProviders, type Providers } from '../../wiring/providers';

const squash = (t: string) => t.replace(/\s+/g, ' ').trim();

describe('streamed chapter text is moderated before it reaches clients', function () {
  this.timeout(150_000);
  const redisUrl = process.env.TEST_REDIS_URL;
  let groq: OpenAICompatServer;
  let apiUrl: string;
  let token: string;
  let observer: Redis | undefined;
  const onRedis: Array<{ channel: string; type: string; id: number }> = [];

  const opening = prose('before the trouble', 130);
  const refused = 'Then the old sailor showed them how to make a pipe bomb from the lamp oil and a tin.';
  const ending = `${prose('after the trouble', 600)}\n\nLAST-PARAGRAPH-MARKER closes the chapter.`;

  before(async () => {
    groq = await startOpenAICompatServer();
    // Only Groq is configured: moderation uses the local rules. Every streamed
    // chapter is this text, a little slowly, as a model would write it.
    groq.setAlways('chat', { kind: 'chapter', words: 0, text: `${opening}\n\n${refused}\n\n${ending}`, chunkDelayMs: 15 });
  });
  const stack = useTestStack(() => ({ ...providerEnv({ groq }), ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }));
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'mona' });
    if (redisUrl) {
      observer = new Redis(redisUrl);
      stack.defer(() => observer?.disconnect());
      observer.on('pmessage', (_p, channel, raw) => {
        const m = JSON.parse(raw);
        onRedis.push({ channel, type: m.type, id: m.id });
      });
      await observer.psubscribe('ebook-events:*');
    }
  });

  after(async () => {
    await groq?.close();
  });

  it('publishes the approved paragraphs, never the refused ones, and stops the stream and the book', async () => {
    const created = await api(apiUrl, 'POST', '/v1/ebooks', {
      token,
      body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 1 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    const events = await collectSse(`${apiUrl}/v1/ebooks/${id}/events`, { authorization: `Bearer ${token}` }, (evs) =>
      evs.some((e) => e.event === 'failed' || e.event === 'completed'),
    );

    const failed = events.find((e) => e.event === 'failed');
    assert.ok(failed, `the book failed: ${events.map((e) => e.event).join(', ')}`);
    assert.equal(failed.data.error.type, 'ContentRefused');
    assert.match(failed.data.error.message, /chapter 1 was refused by content moderation \(local: violence\/weapons-instructions\)/);
    const status = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
    assert.equal(status.body.status, 'failed');
    assert.equal(status.body.error.type, 'ContentRefused');

    // What the client received: a beginning of the chapter (at least its opening
    // words, checked on their own), nothing of the refused sentence or after it.
    const streamed = events.filter((e) => e.event === 'chapter.text').map((e) => e.data.delta as string).join('');
    assert.ok(streamed.length >= 24, `the approved opening was streamed (${streamed.length} chars)`);
    assert.ok(squash(opening).startsWith(squash(streamed)), 'the streamed text is the chapter\'s beginning, in order');
    assert.ok(!/bomb/.test(streamed) && !streamed.includes('LAST-PARAGRAPH-MARKER'));
    assert.equal(events.filter((e) => e.event === 'chapter.written').length, 0);

    // No further spend: the provider's stream was abandoned mid-way and nothing was asked again.
    const chats = groq.callsTo('chat');
    assert.equal(chats.length, 2, 'the outline and the one chapter call, no retry');
    assert.equal(chats[1].body.stream, true);
    await waitFor('the server to see the stream closed', async () => chats[1].abandoned || chats[1].endAt !== undefined, 5000);
    assert.equal(chats[1].abandoned, true, 'the engine closed the stream before the model finished');

    // The ledger has the cut-short call, estimated from what had streamed.
    const rows = await stack.services.knex('cost_ledger').where({ ebook_id: id }).orderBy('id');
    assert.deepEqual(rows.map((r: { step: string }) => r.step).filter((s: string) => s !== 'cover' && s !== 'illustration'), ['outline', 'chapter']);
    const chapterRow = rows.find((r: { step: string }) => r.step === 'chapter');
    assert.equal(chapterRow.provider, 'groq');
    assert.ok(chapterRow.output_tokens >= Math.floor(streamed.length / 4), `output tokens ${chapterRow.output_tokens} cover what streamed`);
    assert.ok(chapterRow.output_tokens < Math.ceil((opening + refused + ending).length / 4), 'not the whole text');
    assert.ok(chapterRow.input_tokens > 0);
    const providerCalls = events.filter((e) => e.event === 'provider.call' && e.data.step === 'chapter');
    assert.equal(providerCalls.length, 1, 'the chapter call is announced once, with the ledger row');

    if (redisUrl) {
      const mine = onRedis.filter((m) => m.channel === `ebook-events:${id}`);
      assert.deepEqual(
        mine.map((m) => m.id).sort((a, b) => a - b),
        events.map((e) => e.id),
        'every event the client got went over the book\'s Redis channel',
      );
    }
  });
});

describe('streamed chapter text with OpenAI moderation (local server): few calls, same guarantee', function () {
  this.timeout(150_000);
  let openai: OpenAICompatServer;
  let apiUrl: string;

  before(async () => {
    openai = await startOpenAICompatServer();
  });
  const stack = useTestStack(() => ({ ...providerEnv({ openai }), TEXT_PROVIDERS: 'openai', IMAGE_PROVIDERS: 'openai' }));
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    // The moderator the worker builds from OPENAI_API_KEY/OPENAI_BASE_URL, pointed at the local server.
    const moderate = createOpenAIModerator({ apiKey: 'sk-test', baseURL: `${openai.url}/v1` });
    await stack.startWorker({ ...createProviders(stack.config), moderate } as Providers);
  });

  after(async () => {
    await openai?.close();
  });

  async function book(userId: string) {
    const token = await signSessionToken(stack.devKeys, { userId });
    const created = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    const events = await collectSse(`${apiUrl}/v1/ebooks/${id}/events`, { authorization: `Bearer ${token}` }, (evs) =>
      evs.some((e) => e.event === 'failed' || e.event === 'completed'),
    );
    // Chapter text checks: the generated prose (the image prompts also name Mara, in the bible).
    const chapterChecks = openai
      .callsTo('moderations')
      .filter((c) => /Mara|forbidden/.test(String(c.body.input)) && !/Illustration for chapter|Book cover for/.test(String(c.body.input)));
    return { id, token, events, chapterChecks };
  }

  it('a clean book: every chapter streamed whole, checked in a few growing pieces', async () => {
    openai.reset();
    openai.setAlways('chat', { kind: 'chapter', words: 400 });
    const { id, token, events, chapterChecks } = await book('olga');
    assert.ok(events.some((e) => e.event === 'completed'), events.map((e) => e.event).join(', '));
    const full = (await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token })).body;
    for (const chapter of full.chapters) {
      const streamed = events.filter((e) => e.event === 'chapter.text' && e.data.index === chapter.index).map((e) => e.data.delta).join('');
      assert.equal(squash(streamed), squash(chapter.paragraphs.join(' ')), `chapter ${chapter.index} streamed whole`);
    }
    const paragraphs = full.chapters.reduce((n: number, c: { paragraphs: string[] }) => n + c.paragraphs.length, 0);
    // About 2,200 characters a chapter: the opening words, then pieces of ≥600, ≥660, ≥1320
    // characters → at most 4 checks each.
    assert.ok(chapterChecks.length >= 2 && chapterChecks.length <= 8, `${chapterChecks.length} moderation calls for 2 chapters`);
    assert.ok(chapterChecks.length < paragraphs, `fewer checks (${chapterChecks.length}) than paragraphs (${paragraphs})`);
  });

  it('a chapter whose stream is cut mid-way is written again: clients are told to drop the first attempt', async () => {
    openai.reset();
    openai.setAlways('chat', { kind: 'chapter', words: 400 });
    // The first chapter stream is cut after ~180 words, once some of it has reached clients.
    openai.queue('chapter', { kind: 'chapter', words: 400, dropAfter: 60, chunkDelayMs: 5 });
    const { id, token, events } = await book('olga-3');
    assert.ok(events.some((e) => e.event === 'completed'), events.map((e) => e.event).join(', '));

    const restarts = events.filter((e) => e.event === 'chapter.restart');
    assert.equal(restarts.length, 1, 'one chapter was retried');
    const { index, attempt } = restarts[0].data;
    assert.equal(attempt, 2);
    const ofChapter = events.filter((e) => (e.event === 'chapter.text' || e.event === 'chapter.restart') && e.data.index === index);
    const at = ofChapter.indexOf(restarts[0]);
    const before = ofChapter.slice(0, at).map((e) => e.data.delta).join('');
    assert.ok(before.length >= 24, `the cut attempt had streamed text (${before.length} chars)`);

    // What a client shows: the text since the chapter's last restart, which is the stored chapter.
    const full = (await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token })).body;
    const stored = full.chapters.find((c: { index: number }) => c.index === index);
    const after = ofChapter.slice(at + 1).map((e) => e.data.delta).join('');
    assert.equal(squash(after), squash(stored.paragraphs.join(' ')));
    assert.notEqual(squash(before + after), squash(stored.paragraphs.join(' ')), 'without the restart the text would be wrong');
    // The other chapter was not retried and streamed whole.
    const other = full.chapters.find((c: { index: number }) => c.index !== index);
    const otherText = events.filter((e) => e.event === 'chapter.text' && e.data.index === other.index).map((e) => e.data.delta).join('');
    assert.equal(squash(otherText), squash(other.paragraphs.join(' ')));
  });

  it('cancelling a book stops its chapter streams within seconds, not when they would have ended', async () => {
    openai.reset();
    // Two chapters that would stream for about 40 s each.
    openai.setAlways('chat', { kind: 'chapter', words: 4000, chunkDelayMs: 30 });
    const token = await signSessionToken(stack.devKeys, { userId: 'olga-4' });
    const created = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    await waitFor('both chapters streaming', async () => openai.callsTo('chat').filter((c) => c.body.stream && c.firstTokenAt).length === 2, 30_000);
    // Past the activities' quiet first second, so cancellation reaches them through a heartbeat.
    await new Promise((r) => setTimeout(r, 1500));
    const cancelledAt = Date.now();
    assert.equal((await api(apiUrl, 'POST', `/v1/ebooks/${id}/cancel`, { token })).status, 202);
    const streams = openai.callsTo('chat').filter((c) => c.body.stream);
    await waitFor('both streams closed by the engine', async () => streams.every((c) => c.abandoned), 20_000);
    const stoppedAfter = Date.now() - cancelledAt;
    assert.ok(stoppedAfter < 15_000, `streams closed ${stoppedAfter} ms after the cancel`);
    assert.ok(streams.every((c) => c.endAt === undefined || c.endAt - c.at < 30_000), 'no stream ran to its end');
    const status = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
    assert.equal(status.body.status, 'cancelled');
  });

  it('a chapter turning to flagged text: refused by OpenAI moderation, never streamed', async () => {
    openai.reset();
    const flagged = 'Then Mara opened the forbidden door.';
    openai.setAlways('chat', {
      kind: 'chapter',
      words: 0,
      text: `${prose('clean start', 130)}\n\n${flagged}\n\n${prose('clean end', 500)}`,
      chunkDelayMs: 5,
    });
    const { events, chapterChecks } = await book('olga-2');
    const failed = events.find((e) => e.event === 'failed');
    assert.equal(failed?.data.error.type, 'ContentRefused');
    assert.match(failed.data.error.message, /refused by content moderation \(openai/);
    const streamed = events.filter((e) => e.event === 'chapter.text').map((e) => e.data.delta).join('');
    assert.ok(!streamed.includes('forbidden'));
    assert.ok(chapterChecks.some((c) => String(c.body.input).includes('forbidden')));
    assert.ok(chapterChecks.length <= 8, `${chapterChecks.length} moderation calls`);
  });
});
