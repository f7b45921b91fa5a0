/**
 * The SDK-backed text providers against a local OpenAI-compatible server,
 * through the real `openai` and `groq-sdk` clients.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { createOpenAITextProvider } from '../../activities/providers/openai-text';
import { createGroqTextProvider } from '../../activities/providers/groq-text';
import { createFailoverTextProvider } from '../../activities/providers/failover';
import { WordGate } from '../../activities/providers/chat-text';
import type { ChapterRequest, Outline } from '../../activities/providers/types';
import type { BookBrief } from '../../core/brief';

/** A mock activity context at `attempt`, without the worker's failure logging. */
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const activity = (attempt: number) => ({
  run: <T>(fn: () => Promise<T>) => new MockActivityEnvironment({ attempt }, { logger: quiet }).run(fn) as Promise<T>,
});

const brief: BookBrief = { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 3 };

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('text providers (openai / groq SDKs against a local server)', function () {
  this.timeout(20_000);
  let server: OpenAICompatServer;
  let outline: Outline;

  const openai = (timeoutMs = 5000) =>
    createOpenAITextProvider({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, model: 'gpt-test', timeoutMs });
  const groq = () => createGroqTextProvider({ apiKey: 'gsk-test', baseURL: server.url, model: 'llama-test', timeoutMs: 5000 });
  const chapterReq = (): ChapterRequest => ({
    brief,
    outline,
    chapter: outline.chapters[1],
    previousSummaries: [outline.chapters[0].summary],
  });

  before(async () => {
    server = await startOpenAICompatServer();
    outline = (await openai().writeOutline(brief)).outline;
  });
  after(() => server.close());
  beforeEach(() => server.reset());

  it('writes an outline through json_schema structured output', async () => {
    const res = await openai().writeOutline(brief);
    assert.equal(res.outline.chapters.length, 3);
    assert.deepEqual(res.outline.chapters.map((c) => c.index), [1, 2, 3]);
    assert.equal(res.model, 'gpt-test');
    assert.ok((res.usage.outputTokens ?? 0) > 0);
    const [call] = server.callsTo('chat');
    assert.equal(call.body.response_format.type, 'json_schema');
    assert.equal(call.body.response_format.json_schema.schema.properties.chapters.minItems, 3);
  });

  it('repairs a malformed outline once, sending the validation errors back', async () => {
    server.queue('chat', { kind: 'content', content: '{"title": "only a title"}' });
    const res = await openai().writeOutline(brief);
    assert.equal(res.outline.chapters.length, 3);
    const calls = server.callsTo('chat');
    assert.equal(calls.length, 2);
    const repair = calls[1].body.messages.at(-1).content as string;
    assert.match(repair, /not valid/);
    assert.match(repair, /chapters/);
  });

  it('reads plain meaning without a repair round: JSON in words, misnumbered chapters, a bad palette', async () => {
    const sloppy = {
      ...outline,
      palette: ['sea blue', '#ff8c4'],
      chapters: outline.chapters.map((c, i) => ({ ...c, index: [3, 1, 7][i] })),
    };
    server.queue('chat', { kind: 'content', content: `Here is the outline:\n${JSON.stringify(sloppy)}\nEnjoy!` });
    const res = await openai().writeOutline(brief);
    assert.equal(server.callsTo('chat').length, 1, 'no repair round');
    assert.deepEqual(res.outline.chapters.map((c) => c.index), [1, 2, 3]);
    assert.deepEqual(res.outline.chapters.map((c) => c.title), outline.chapters.map((c) => c.title), 'in the order written');
    assert.ok(res.outline.palette.every((c) => /^#[0-9a-f]{6}$/i.test(c)), res.outline.palette.join());
  });

  it('fails with a non-retryable InvalidOutline when the repair is malformed too', async () => {
    const wrongCount = JSON.stringify({ ...outline, chapters: outline.chapters.slice(0, 2) });
    server.queue('chat', { kind: 'content', content: 'not json at all' }, { kind: 'content', content: wrongCount });
    const f = await failureOf(openai().writeOutline(brief));
    assert.equal(f.type, 'InvalidOutline');
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /exactly 3 chapters/);
    assert.equal(server.callsTo('chat').length, 2, 'exactly one repair round');
  });

  it('streams a chapter: deltas arrive in order and make up the result', async () => {
    const deltas: string[] = [];
    const res = await openai().writeChapter(chapterReq(), (d) => deltas.push(d));
    assert.ok(deltas.length > 3, `several deltas (${deltas.length})`);
    const joined = deltas.join('');
    assert.deepEqual(
      joined.split(/\n\s*\n/).map((p) => p.replace(/\s+/g, ' ').trim()).filter(Boolean),
      res.paragraphs,
    );
    assert.ok(res.paragraphs.join(' ').split(/\s+/).length >= 0.8 * outline.chapters[1].targetWords);
    assert.deepEqual(res.usage, { inputTokens: 42, outputTokens: res.usage.outputTokens });
    assert.ok((res.usage.outputTokens ?? 0) > 0, 'usage from the final usage chunk');
    const [call] = server.callsTo('chat');
    assert.equal(call.body.stream, true);
    assert.deepEqual(call.body.stream_options, { include_usage: true });
    assert.match(call.body.messages[0].content, /Mara: a tall woman/, 'the character bible is sent');
    assert.match(call.body.messages[1].content, /Something happens in part 1/, 'previous summaries are sent');
  });

  it('a server that refuses stream_options: streamed without it from then on, tokens estimated', async () => {
    server.dialect = { ...server.dialect, streamOptions: false };
    try {
      // A model name of its own: what a server refused is remembered per base URL and model.
      const provider = createOpenAITextProvider({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, model: 'old-server', timeoutMs: 5000 });
      const first = await provider.writeChapter(chapterReq());
      assert.ok(first.paragraphs.length > 0);
      await provider.writeChapter(chapterReq());
      const calls = server.callsTo('chat');
      assert.deepEqual(calls.map((c) => [c.status, Boolean(c.body.stream_options)]), [[400, true], [200, false], [200, false]]);
      assert.ok((first.usage.inputTokens ?? 0) > 42, 'estimated from the prompt, not a reported usage');
    } finally {
      server.dialect = { ...server.dialect, streamOptions: true };
    }
  });

  it('continues a chapter that stopped short from its last whole word, and never ends mid-sentence', async () => {
    server.queue('chat', { kind: 'chapter', words: 60, finish: 'length' });
    const deltas: string[] = [];
    const res = await openai().writeChapter(chapterReq(), (d) => deltas.push(d));
    const calls = server.callsTo('chat');
    assert.equal(calls.length, 2, 'one continuation');
    assert.match(calls[1].body.messages.at(-1).content, /Continue the chapter from exactly where it stops/);
    // The cut text ends "… turned toward the": "the" may be a cut word, so it is dropped;
    // the continuation is asked for from "turned toward" and joins that sentence.
    const sofar = calls[1].body.messages.at(-2);
    assert.equal(sofar.role, 'assistant');
    assert.match(sofar.content, /And then the keeper turned toward$/);
    const text = res.paragraphs.join(' ');
    assert.match(text, /turned toward \S/, 'the continuation joins the cut sentence after one space');
    assert.doesNotMatch(text, /turned toward the /);
    assert.match(text, /[.!?"”]$/, 'ends on a complete sentence');
    assert.equal(deltas.join('').replace(/\s+/g, ' ').trim(), text, 'what was streamed is exactly the result');
    assert.ok(text.split(/\s+/).length >= 0.8 * 300);
  });

  it('passes text on a whole word at a time, holding back only the word still being written', async () => {
    const seen: string[] = [];
    const gate = new WordGate((d) => seen.push(d));
    gate.push('Once');
    assert.deepEqual(seen, [], 'a word without whitespace after it may not be finished');
    gate.push(' upon a ti');
    assert.deepEqual(seen, ['Once upon a ']);
    gate.push('me, there');
    assert.deepEqual(seen, ['Once upon a ', 'time, ']);
    gate.flush();
    assert.equal(gate.emitted, 'Once upon a time, there');
    // A continuation after a complete sentence starts a new paragraph; its own leading space is dropped.
    const g2 = new WordGate();
    g2.push('It ended. ');
    g2.continueWith();
    g2.push('  Then');
    g2.push(' more.');
    g2.flush();
    assert.equal(g2.emitted, 'It ended. \n\nThen more.');
    // Mid-sentence (after a cut), it continues the sentence.
    const g3 = new WordGate();
    g3.push('She turned toward th');
    g3.dropTail();
    g3.continueWith();
    g3.push(' the sea.');
    g3.flush();
    assert.equal(g3.emitted, 'She turned toward the sea.');
    // Chinese and Japanese put no spaces between words: each character may end a piece.
    const cjk: string[] = [];
    const g4 = new WordGate((d) => cjk.push(d));
    g4.push('灯台守は');
    g4.push('海を見た');
    assert.deepEqual(cjk, ['灯台守は', '海を見た']);
    g4.push('。');
    g4.continueWith();
    g4.push(' 次の朝');
    g4.flush();
    assert.equal(g4.emitted, '灯台守は海を見た。\n\n次の朝', 'after a full stop, a new paragraph; no space is added');
    const g5 = new WordGate();
    g5.push('灯台守は海を');
    g5.continueWith();
    g5.push('見た。');
    g5.flush();
    assert.equal(g5.emitted, '灯台守は海を見た。', 'mid-sentence, joined without a space');
    // Cut right after a paragraph break: no second break.
    const g6 = new WordGate();
    g6.push('It ended.\n\nThen');
    g6.dropTail();
    g6.continueWith();
    g6.push('Then it began.');
    g6.flush();
    assert.equal(g6.emitted, 'It ended.\n\nThen it began.');
  });

  it('continues a chapter that finished well short of its target', async () => {
    server.queue('chat', { kind: 'chapter', words: 80, finish: 'stop' });
    const res = await openai().writeChapter(chapterReq());
    const calls = server.callsTo('chat');
    assert.equal(calls.length, 2);
    assert.match(calls[1].body.messages.at(-1).content, /about \d+ more words/);
    assert.ok(res.paragraphs.join(' ').split(/\s+/).length >= 240);
    assert.ok((res.usage.inputTokens ?? 0) === 84, 'usage of both calls is summed');
  });

  it('a stream that goes silent → ProviderTimeout; one cut mid-way → retryable', async () => {
    server.queue('chat', { kind: 'chapter', words: 300, stallAfter: 5 });
    const f = await failureOf(openai(1000).writeChapter(chapterReq()));
    assert.equal(f.type, 'ProviderTimeout');
    server.queue('chat', { kind: 'chapter', words: 300, dropAfter: 5 });
    const g = await failureOf(openai().writeChapter(chapterReq()));
    assert.equal(g.nonRetryable, false);
    assert.match(g.type ?? '', /ProviderConnection|ProviderError/);
  });

  it('a cancelled call rejects with the abort reason, not a provider failure', async () => {
    server.queue('chat', { kind: 'hang' });
    const ac = new AbortController();
    const reason = new Error('cancelled by the test');
    setTimeout(() => ac.abort(reason), 200);
    await assert.rejects(openai().writeOutline(brief, ac.signal), (e) => e === reason);
  });

  it('groq-sdk writes a json_schema outline through /openai/v1', async () => {
    const res = await groq().writeOutline(brief);
    assert.equal(res.outline.chapters.length, 3);
    assert.equal(server.callsTo('chat')[0].path, '/openai/v1/chat/completions');
  });

  it('groq-sdk streams through /openai/v1 with x_groq usage', async () => {
    const deltas: string[] = [];
    const res = await groq().writeChapter(chapterReq(), (d) => deltas.push(d));
    assert.ok(res.paragraphs.length > 0);
    assert.equal(res.usage.inputTokens, 42);
    const [call] = server.callsTo('chat');
    assert.equal(call.path, '/openai/v1/chat/completions');
    assert.equal(call.body.stream_options, undefined);
  });

  describe('error classification', () => {
    it('429 with Retry-After: 2 → retryable RateLimited, nextRetryDelay 2 s', async () => {
      server.queue('chat', { kind: 'status', status: 429, headers: { 'retry-after': '2' } });
      const f = await failureOf(openai().writeOutline(brief));
      assert.equal(f.type, 'RateLimited');
      assert.equal(f.nonRetryable, false);
      assert.equal(f.nextRetryDelay, 2000);
      assert.deepEqual((f.details?.[0] as any).provider, 'openai');
      assert.equal(server.callsTo('chat').length, 1, 'the SDK did not retry on its own');
    });

    it('retry-after-ms wins over Retry-After', async () => {
      server.queue('chat', { kind: 'status', status: 429, headers: { 'retry-after-ms': '1500', 'retry-after': '9' } });
      const f = await failureOf(groq().writeOutline(brief));
      assert.equal(f.nextRetryDelay, 1500);
      assert.equal((f.details?.[0] as any).provider, 'groq');
    });

    it('Retry-After as an HTTP date', async () => {
      const at = new Date(Date.now() + 5000).toUTCString();
      server.queue('chat', { kind: 'status', status: 503, headers: { 'retry-after': at } });
      const f = await failureOf(openai().writeOutline(brief));
      assert.equal(f.type, 'ProviderError');
      assert.ok(Number(f.nextRetryDelay) > 2000 && Number(f.nextRetryDelay) <= 5000, String(f.nextRetryDelay));
    });

    it('500 → retryable ProviderError', async () => {
      server.queue('chat', { kind: 'status', status: 500 });
      const f = await failureOf(openai().writeChapter(chapterReq()));
      assert.equal(f.type, 'ProviderError');
      assert.equal(f.nonRetryable, false);
      assert.equal(server.callsTo('chat').length, 1);
    });

    it('401 → ProviderUnavailable; 429 insufficient_quota → ProviderUnavailable', async () => {
      server.queue('chat', { kind: 'status', status: 401, body: { error: { message: 'bad key', code: 'invalid_api_key' } } });
      assert.equal((await failureOf(openai().writeOutline(brief))).type, 'ProviderUnavailable');
      server.queue('chat', {
        kind: 'status',
        status: 429,
        body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } },
      });
      const f = await failureOf(openai().writeOutline(brief));
      assert.equal(f.type, 'ProviderUnavailable');
    });

    it('400 → non-retryable BadInput; content_policy_violation → ContentRefused', async () => {
      server.queue('chat', { kind: 'status', status: 400, body: { error: { message: 'bad', code: 'invalid_value' } } });
      const f = await failureOf(openai().writeOutline(brief));
      assert.equal(f.type, 'BadInput');
      assert.equal(f.nonRetryable, true);
      server.queue('chat', { kind: 'status', status: 400, body: { error: { message: 'no', code: 'content_policy_violation' } } });
      const g = await failureOf(openai().writeOutline(brief));
      assert.equal(g.type, 'ContentRefused');
      assert.equal(g.nonRetryable, true);
    });

    it('a hung request → retryable ProviderTimeout; a dropped connection → ProviderConnection', async () => {
      server.queue('chat', { kind: 'hang' });
      const f = await failureOf(openai(1000).writeOutline(brief));
      assert.equal(f.type, 'ProviderTimeout');
      assert.equal(f.nonRetryable, false);
      server.queue('chat', { kind: 'drop' });
      const g = await failureOf(openai().writeOutline(brief));
      assert.equal(g.type, 'ProviderConnection');
      assert.equal(g.nonRetryable, false);
    });

    it('a malformed JSON body → retryable', async () => {
      server.queue('chat', { kind: 'garbage' });
      const f = await failureOf(openai().writeOutline(brief));
      assert.equal(f.nonRetryable, false);
    });
  });

  describe('failover', () => {
    it('attempts 1..budget use the primary, later ones the secondary', async () => {
      // Primary and secondary are told apart by the path groq-sdk uses.
      server.setAlways('chat', { kind: 'status', status: 500 });
      const text = createFailoverTextProvider([groq(), openai()], { attemptBudget: 3, breakerThreshold: 100 });
      for (let attempt = 1; attempt <= 3; attempt++) {
        const f = await failureOf(activity(attempt).run(() => text.writeOutline(brief)));
        assert.equal((f.details?.[0] as any).provider, 'groq', `attempt ${attempt}`);
      }
      server.setAlways('chat', undefined);
      const res = await activity(4).run(() => text.writeOutline(brief));
      assert.equal(res.provider, 'openai');
      const paths = server.callsTo('chat').map((c) => c.path);
      assert.deepEqual(paths, [
        '/openai/v1/chat/completions',
        '/openai/v1/chat/completions',
        '/openai/v1/chat/completions',
        '/v1/chat/completions',
      ]);
    });

    it('ProviderUnavailable moves to the next provider within the same attempt', async () => {
      server.queue('chat', { kind: 'status', status: 401 });
      const text = createFailoverTextProvider([groq(), openai()]);
      const res = await activity(1).run(() => text.writeOutline(brief));
      assert.equal(res.provider, 'openai');
      assert.equal(server.callsTo('chat').length, 2);
    });

    it('an open circuit skips the provider; outside an activity the attempt is 1', async () => {
      server.queue('chat', { kind: 'status', status: 502 }, { kind: 'status', status: 502 });
      const text = createFailoverTextProvider([groq(), openai()], { breakerThreshold: 2, breakerCooldownMs: 60_000 });
      await failureOf(text.writeOutline(brief));
      await failureOf(text.writeOutline(brief));
      const res = await text.writeOutline(brief); // attempt 1 would be groq, but its circuit is open
      assert.equal(res.provider, 'openai');
      assert.equal(server.callsTo('chat').length, 3);
    });

    it('every provider unavailable → one non-retryable ProviderUnavailable', async () => {
      server.setAlways('chat', { kind: 'status', status: 403 });
      const text = createFailoverTextProvider([groq(), openai()]);
      const f = await failureOf(text.writeOutline(brief));
      assert.equal(f.type, 'ProviderUnavailable');
      assert.equal(f.nonRetryable, true);
    });
  });
});
