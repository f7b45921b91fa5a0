/**
 * A book written by the local language model, end to end: HTTP → Temporal → the
 * worker's in-process model → SSE. Needs the model (`npm run model:install`;
 * CI installs it): without it the test fails and says so, it is not skipped.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createTestStack, startApi, startWorker, type TestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { collectSse } from '../providers/sse-client';
import { signSessionToken } from '../../lib/tokens';
import { createProviders, type Providers } from '../../wiring/providers';
import { LocalModel } from '../../activities/providers/local-model';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Short chapters and one thread: the suite's machines have two cores shared with
 * other tests, and a writeChapter attempt has 5 minutes (workflows/proxies.ts).
 */
const LOCAL_ENV = {
  TEXT_PROVIDERS: 'local',
  LOCAL_MODEL_PATH: path.join(ROOT, '.tools', 'models', 'gemma-3-270m-q4_k_m.gguf'),
  LOCAL_MODEL_THREADS: '1',
  LOCAL_MODEL_SEQUENCES: '2',
  LOCAL_MODEL_CHAPTER_WORDS: '80',
  CHAPTER_CONCURRENCY: '2',
};

describe('a book written by the local model (HTTP, SSE, ledger)', function () {
  this.timeout(900_000);
  let stack: TestStack;
  let apiUrl: string;
  let stopApi: () => Promise<void>;
  let stopWorker: () => Promise<void>;
  let providers: Providers;
  let token: string;

  before(async () => {
    stack = await createTestStack(LOCAL_ENV);
    assert.ok(
      LocalModel.installed(stack.config.providers.localModelPath),
      `the local model is not installed at ${stack.config.providers.localModelPath}: run \`npm run model:install\``,
    );
    providers = createProviders(stack.config);
    ({ url: apiUrl, stop: stopApi } = await startApi(stack));
    ({ stop: stopWorker } = await startWorker(stack, providers));
    token = await signSessionToken(stack.devKeys, { userId: 'ines' });
  });

  after(async () => {
    await stopApi?.();
    await stopWorker?.();
    await providers?.disposeProviders?.();
    await stack?.close();
  });

  it('writes a 2-chapter book with `local`, streamed over SSE, with its tokens in the ledger', async () => {
    assert.equal(providers.text.name, 'local', 'TEXT_PROVIDERS=local selects the local model');
    const posted = Date.now();
    const created = await api(apiUrl, 'POST', '/v1/ebooks', {
      token,
      body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2, era: 'folklore-evermore' },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    let firstText = 0;
    const events = await collectSse(
      `${apiUrl}/v1/ebooks/${id}/events`,
      { authorization: `Bearer ${token}` },
      (evs) => {
        if (!firstText && evs.some((e) => e.event === 'chapter.text')) firstText = Date.now() - posted;
        return evs.some((e) => e.event === 'failed' || e.event === 'completed');
      },
      840_000,
    );
    const failed = events.find((e) => e.event === 'failed');
    assert.ok(!failed, `the book failed: ${JSON.stringify(failed?.data)}`);
    assert.ok(events.some((e) => e.event === 'completed'), `completed: ${events.map((e) => e.event).join(',')}`);
    console.log(`      first chapter words over SSE ${firstText} ms after the POST; book done in ${Date.now() - posted} ms`);

    // The text arrived in pieces before each chapter was written, and is the chapter.
    const book = await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token });
    assert.equal(book.status, 200);
    assert.equal(book.body.chapters.length, 2);
    for (const c of book.body.chapters) {
      const pieces = events.filter((e) => e.event === 'chapter.text' && e.data.index === c.index);
      const written = events.findIndex((e) => e.event === 'chapter.written' && e.data.index === c.index);
      assert.ok(pieces.length >= 1, `chapter ${c.index} streamed`);
      assert.ok(events.indexOf(pieces.at(-1)!) < written, 'its text came before chapter.written');
      const streamed = pieces.map((e) => e.data.delta).join('').replace(/\s+/g, ' ').trim();
      assert.equal(streamed, c.paragraphs.join(' '), `chapter ${c.index}: what streamed is what was stored`);
      assert.equal(c.textProvider, 'local');
      const text = c.paragraphs.join(' ');
      assert.ok(c.words >= 40, `chapter ${c.index} has ${c.words} words`);
      assert.ok(/\bgulls?\b/i.test(text), `chapter ${c.index} names the gull: ${text.slice(0, 300)}`);
    }
    const status = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
    assert.equal(status.body.providers.text, 'local', JSON.stringify(status.body.providers));

    // The ledger: the outline (planned by the engine: no tokens) and both chapters, by `local`, at no cost.
    const rows = await stack.services.knex('cost_ledger').where({ ebook_id: id, provider: 'local' }).orderBy('id');
    const steps = rows.map((r: { step: string }) => r.step).sort();
    assert.deepEqual(steps, ['chapter', 'chapter', 'outline'], JSON.stringify(rows));
    for (const r of rows) {
      if (r.step === 'outline') {
        assert.equal(r.model, 'engine-plan');
        assert.equal(Number(r.output_tokens), 0);
      } else {
        assert.ok(r.input_tokens > 0 && r.output_tokens > 0, `tokens recorded: ${JSON.stringify(r)}`);
        assert.match(r.model, /gemma-3-270m/);
      }
      assert.equal(Number(r.cost_usd), 0);
      assert.equal(r.estimated, true, 'a known price (zero), not an unknown one');
    }
  });
});

describe('a worker killed in the middle of a local chapter', function () {
  this.timeout(1_200_000);
  let stack: TestStack;
  let url: string;
  let stopApi: () => Promise<void>;
  const workers: ChildProcess[] = [];

  before(async () => {
    // One chapter at a time, so the kill lands with one chapter done and the next one being written.
    stack = await createTestStack({ ...LOCAL_ENV, CHAPTER_CONCURRENCY: '1', LOCAL_MODEL_SEQUENCES: '1' });
    assert.ok(LocalModel.installed(stack.config.providers.localModelPath), 'the local model is not installed: run `npm run model:install`');
    ({ url, stop: stopApi } = await startApi(stack));
  });
  after(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stopApi?.();
    await stack?.close();
  });

  /** `npm run worker` as its own process, writing with the local model. */
  const startWorkerProcess = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...LOCAL_ENV,
        CHAPTER_CONCURRENCY: '1',
        LOCAL_MODEL_SEQUENCES: '1',
        IMAGE_PROVIDERS: 'offline',
        DATA_DIR: stack.dataDir,
        DATABASE_URL: stack.databaseUrl,
        TEMPORAL_ADDRESS: stack.env.address,
        TEMPORAL_TASK_QUEUE: stack.taskQueue,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    workers.push(child);
    return child;
  };

  it('restarts the chapter being written and does not write the finished one again', async () => {
    const token = await signSessionToken(stack.devKeys, { userId: 'tomas' });
    const first = startWorkerProcess();
    const created = await api(url, 'POST', '/v1/ebooks', {
      token,
      body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    const events = () => stack.services.knex('ebook_events').where({ ebook_id: id }).orderBy('id');

    // Kill once one chapter is written and the other one's text is streaming (in whichever order they run).
    let done = 0;
    let writing = 0;
    await waitFor(
      'one chapter written, the other being written',
      async () => {
        const evs = await events();
        if (evs.some((e: any) => e.type === 'failed')) assert.fail('the book failed');
        const written = new Set(evs.filter((e: any) => e.type === 'chapter.written').map((e: any) => e.data.index));
        const streaming = new Set(evs.filter((e: any) => e.type === 'chapter.text').map((e: any) => e.data.index));
        done = [...written][0] ?? 0;
        writing = [...streaming].find((i) => !written.has(i)) ?? 0;
        return written.size === 1 && writing > 0;
      },
      900_000,
      100,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    assert.ok(!(await events()).some((e: any) => e.type === 'chapter.written' && e.data.index === writing), `chapter ${writing} was mid-way`);

    startWorkerProcess();
    await waitFor(
      'the book to complete on the new worker',
      async () => {
        const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
        if (s.body.status === 'failed') assert.fail(JSON.stringify(s.body.error));
        return s.body.status === 'completed';
      },
      900_000,
      500,
    );
    const evs = await events();
    const restarts = evs.filter((e: any) => e.type === 'chapter.restart');
    assert.ok(restarts.some((e: any) => e.data.index === writing && e.data.attempt >= 2), `chapter ${writing} restarted: ${JSON.stringify(restarts.map((e: any) => e.data))}`);
    assert.ok(!restarts.some((e: any) => e.data.index === done), `chapter ${done} was not written again`);
    const chapterCalls = evs.filter((e: any) => e.type === 'provider.call' && e.data.step === 'chapter');
    assert.equal(chapterCalls.filter((e: any) => e.data.index === done).length, 1, `one local call for chapter ${done}`);
    const book = await api(url, 'GET', `/v1/ebooks/${id}`, { token });
    for (const c of book.body.chapters) {
      assert.equal(c.textProvider, 'local');
      assert.ok(c.words >= 40, `chapter ${c.index}: ${c.words} words`);
    }
  });
});
