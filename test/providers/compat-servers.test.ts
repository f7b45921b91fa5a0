/**
 * OpenAI-compatible local servers (Ollama, llama.cpp's llama-server, LM Studio, vLLM)
 * through OPENAI_BASE_URL alone, no key: whole books through HTTP, Temporal and the
 * `openai` SDK against the local protocol server speaking each "dialect" as such
 * servers do (an HTTP 400 for a response format they lack, 404 for /v1/moderations,
 * no usage in streams). The server's request log shows which fallback was used.
 *
 * And the book's language: an Arabic book written by a server that writes Arabic is
 * set right to left in Arabic (and passes EPUBCheck); one asked in Arabic of the
 * offline writer, which writes English only, is set in English and says so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { useTestStack, type SuiteStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { epubcheck, epubcheckSummary } from '../helpers/validators';
import { signSessionToken } from '../../lib/tokens';
import { startOpenAICompatServer, type Call, type OpenAICompatServer } from '../helpers/provider-servers';
import { createModerator } from '../../activities/moderation';
import { createProviders, type Providers } from '../../wiring/providers';

type Book = { id: string; token: string; status: any };

/** POSTs a book for a new user and waits for it to end; returns its last status. */
async function writeBook(stack: SuiteStack, apiUrl: string, user: string, body: Record<string, unknown>): Promise<Book> {
  const token = await signSessionToken(stack.devKeys, { userId: user });
  const created = await api(apiUrl, 'POST', '/v1/ebooks', { token, body });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const { id } = created.body;
  const status = await waitFor(
    `book ${id} to end`,
    async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
      return ['completed', 'failed', 'cancelled'].includes(s.body.status) && s.body;
    },
    120_000,
  );
  return { id, token, status };
}

/** The book's EPUB, unpacked: its files by name. */
async function epubOf(stack: SuiteStack, apiUrl: string, book: Book): Promise<{ file: string; read(name: string): Promise<string> }> {
  const full = await api(apiUrl, 'GET', `/v1/ebooks/${book.id}`, { token: book.token });
  const res = await fetch(apiUrl + full.body.epubUrl, { headers: { authorization: `Bearer ${book.token}` } });
  assert.equal(res.status, 200);
  const dir = await fs.mkdtemp(path.join(stack.dataDir, 'epub-'));
  const file = path.join(dir, 'book.epub');
  await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
  return {
    file,
    read: async (name) => (await exec('unzip', ['-p', file, name], { maxBuffer: 64 * 1024 * 1024 })).stdout,
  };
}

const outlineCalls = (server: OpenAICompatServer): Call[] => server.callsTo('chat').filter((c) => !c.body?.stream);
const formatOf = (c: Call): string => c.body?.response_format?.type ?? 'none';

describe('OpenAI-compatible local servers through OPENAI_BASE_URL (dialects)', function () {
  this.timeout(300_000);
  let server: OpenAICompatServer;
  let apiUrl: string;

  before(async () => {
    server = await startOpenAICompatServer();
  });
  // No OPENAI_API_KEY: a local server needs none. The model name goes to the server as written.
  const stack = useTestStack(() => ({ OPENAI_BASE_URL: `${server.url}/v1`, TEXT_MODEL_OPENAI: 'llama3.1', PROVIDER_TIMEOUT_MS: '20000' }));
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    // The moderator the worker builds from OPENAI_BASE_URL (moderateText reads this process's
    // environment, which the test leaves alone): the server's endpoint, else the local rules.
    const moderate = createModerator({ openaiBaseUrl: stack.config.providers.openaiBaseUrl });
    await stack.startWorker({ ...createProviders(stack.config), moderate } as Providers);
  });
  after(async () => {
    await server?.close();
  });

  it('no json_schema, no moderation, no usage in streams: JSON mode, the local rules, estimated tokens', async () => {
    server.reset();
    server.dialect = { jsonSchema: false, jsonObject: true, moderation: false, usageInStream: false };
    const book = await writeBook(stack, apiUrl, 'dialect-1', { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2 });
    assert.equal(book.status.status, 'completed', JSON.stringify(book.status.error));
    assert.deepEqual(book.status.providers.used.sort(), ['offline', 'openai'], 'text by the server, pictures offline');

    // The outline: json_schema refused with a 400, then JSON mode answered.
    const outlines = outlineCalls(server);
    assert.deepEqual(outlines.map(formatOf), ['json_schema', 'json_object']);
    assert.deepEqual(outlines.map((c) => c.status), [400, 200]);
    // Every request named the configured model as written, and sent the placeholder key.
    assert.ok(server.callsTo('chat').every((c) => c.body.model === 'llama3.1'));

    // Moderation: one 404, then the local rules for everything after.
    const moderations = server.callsTo('moderations');
    assert.equal(moderations.length, 1, 'asked once; the answer is remembered');
    assert.equal(moderations[0].status, 404);

    // No usage chunk in the streams: the chapters' tokens are estimated from the text.
    const streams = server.callsTo('chat').filter((c) => c.body.stream);
    assert.equal(streams.length, 2);
    assert.ok(streams.every((c) => c.body.stream_options?.include_usage === true), 'usage was asked for');
    const rows = await stack.services.knex('cost_ledger').where({ ebook_id: book.id, step: 'chapter' });
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.provider, 'openai');
      assert.notEqual(r.input_tokens, 42, 'not the usage the server would have sent');
      assert.ok(r.input_tokens > 100 && r.output_tokens > 100, `estimated tokens ${r.input_tokens}/${r.output_tokens}`);
    }
  });

  it('a later book goes straight to what worked: JSON mode, no moderation request', async () => {
    server.reset();
    server.dialect = { jsonSchema: false, jsonObject: true, moderation: false, usageInStream: false };
    const book = await writeBook(stack, apiUrl, 'dialect-2', { prompt: 'Two foxes run a night bakery', chapterCount: 1 });
    assert.equal(book.status.status, 'completed', JSON.stringify(book.status.error));
    assert.deepEqual(outlineCalls(server).map(formatOf), ['json_object']);
    assert.equal(server.callsTo('moderations').length, 0);
  });

  it('no JSON mode either: the prompt alone; JSON inside words is read, missing content costs a repair round', async () => {
    server.reset();
    server.dialect = { jsonSchema: false, jsonObject: false, moderation: false, usageInStream: false };
    const book = await writeBook(stack, apiUrl, 'dialect-3', { prompt: 'A girl builds a kite that reaches the moon', chapterCount: 2 });
    assert.equal(book.status.status, 'completed', JSON.stringify(book.status.error));
    const outlines = outlineCalls(server);
    assert.deepEqual(outlines.map(formatOf), ['json_object', 'none', 'none']);
    assert.deepEqual(outlines.map((c) => c.status), [400, 200, 200]);
    // The repair round shows the model its answer and what was wrong with it.
    const repair = outlines[2].body.messages;
    assert.equal(repair.at(-2).role, 'assistant');
    assert.match(repair.at(-2).content, /^Sure! Here is the plan/);
    // The JSON inside the words was read: what is wrong is the missing summaries, not the wrapping.
    assert.match(repair.at(-1).content, /not valid/);
    assert.match(repair.at(-1).content, /summary/);
    assert.doesNotMatch(repair.at(-1).content, /not valid JSON/);
  });

  it('moderation still refuses a flagged prompt, by the local rules', async () => {
    server.reset();
    const book = await writeBook(stack, apiUrl, 'dialect-4', {
      prompt: 'An old sailor explains step by step how to make a pipe bomb from lamp oil',
      chapterCount: 1,
    });
    assert.equal(book.status.status, 'failed');
    assert.equal(book.status.error.type, 'ContentRefused');
    assert.match(book.status.error.message, /local: violence\/weapons-instructions/);
    assert.equal(server.callsTo('chat').length, 0, 'nothing was written');
  });

  it('an Arabic book written in Arabic is set right to left in Arabic, and passes EPUBCheck', async () => {
    server.reset();
    server.dialect = { jsonSchema: true, jsonObject: true, moderation: false, usageInStream: true };
    server.followLanguage = true;
    try {
      const book = await writeBook(stack, apiUrl, 'dialect-ar', { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2, language: 'ar' });
      assert.equal(book.status.status, 'completed', JSON.stringify(book.status.error));
      // The prompts named the language, in words and as a tag.
      for (const c of server.callsTo('chat')) assert.match(JSON.stringify(c.body.messages), /Arabic/);
      assert.equal(book.status.notices, undefined, 'nothing to say: the text is in the language asked for');
      assert.equal(book.status.textLanguage, undefined);

      const epub = await epubOf(stack, apiUrl, book);
      const opf = await epub.read('EPUB/package.opf');
      assert.match(opf, /<dc:language>ar<\/dc:language>/);
      assert.match(opf, /page-progression-direction="rtl"/);
      const chapter = await epub.read('EPUB/chapter-001.xhtml');
      assert.match(chapter, /هبّت الريح|وقفت مارا/, 'the chapter is the Arabic text');
      assert.match(chapter, /xml:lang="ar"/);
      assert.match(chapter, /dir="rtl"/);
      assert.match(await epub.read('EPUB/nav.xhtml'), /المحتويات/);
      const check = await epubcheck(epub.file);
      assert.equal(check.checker.nFatal + check.checker.nError, 0, epubcheckSummary(check));
    } finally {
      server.followLanguage = false;
    }
  });
});

describe('a book asked in a language its writer cannot write (the offline writer: English only)', function () {
  this.timeout(300_000);
  let apiUrl: string;
  const stack = useTestStack({ TEXT_PROVIDERS: 'offline', IMAGE_PROVIDERS: 'offline' });
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
  });

  it('is set in English (lang, direction, contents heading) and the status says so in words', async () => {
    const book = await writeBook(stack, apiUrl, 'offline-ar', { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2, language: 'ar' });
    assert.equal(book.status.status, 'completed', JSON.stringify(book.status.error));
    assert.equal(book.status.textLanguage, 'en');
    assert.deepEqual(book.status.notices, ['The offline writer writes English only; the book is set in English rather than Arabic.']);

    const epub = await epubOf(stack, apiUrl, book);
    const opf = await epub.read('EPUB/package.opf');
    assert.match(opf, /<dc:language>en<\/dc:language>/);
    assert.doesNotMatch(opf, /rtl/);
    const nav = await epub.read('EPUB/nav.xhtml');
    assert.match(nav, /xml:lang="en"/);
    assert.match(nav, /dir="ltr"/);
    assert.match(nav, /<h1 id="toc-title">Contents<\/h1>/);
    assert.doesNotMatch(nav, /المحتويات/);
  });
});
