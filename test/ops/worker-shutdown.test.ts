/**
 * Stopping a worker process (`npm run worker`, SIGTERM as `docker compose stop` or a
 * scale-down sends) while it writes a chapter: it stops taking work, lets the chapter
 * finish (the provider's stream runs to its end and the chapter is stored and paid
 * for once), then exits 0. Another worker then finishes the book without calling
 * the provider for that chapter again.
 */
import assert from 'node:assert/strict';
import { startWorker, useTestStack } from '../helpers/stack';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { api, waitFor } from '../helpers/http';
import { spawnEngineProcess, type EngineProcess } from '../helpers/process';
import { signSessionToken } from '../../lib/tokens';

/** How long the local provider streams a chapter here. */
const CHAPTER_MS = 4_000;

describe('stopping a worker process', function () {
  this.timeout(240_000);
  let openai: OpenAICompatServer;
  let url: string;
  let workerProcess: EngineProcess | undefined;
  let stopOtherWorker: (() => Promise<void>) | undefined;

  const providers = () => ({ ...providerEnv({ openai }), TEXT_PROVIDERS: 'openai', IMAGE_PROVIDERS: 'openai' });

  before(async () => {
    openai = await startOpenAICompatServer();
  });
  const stack = useTestStack(providers);
  before(async () => {
    ({ url } = await stack.startApi());
    stack.defer(() => stopOtherWorker?.());
    workerProcess = spawnEngineProcess(stack, 'workers/main.ts', providers());
    stack.defer(() => workerProcess?.stop(1_000));
    await workerProcess.waitUntil(async () => {
      const res = await stack.client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: stack.taskQueue },
        taskQueueType: 2, // activities
      });
      return Boolean(res.pollers?.length);
    });
  });

  after(async () => {
    await openai?.close();
  });

  it('lets the running chapter finish, exits 0, and the next worker does not pay for it again', async () => {
    const token = await signSessionToken(stack.devKeys, { userId: 'draining-user' });
    openai.latency = { firstToken: 200, chapter: CHAPTER_MS };
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A bridge that remembers', chapterCount: 1 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id } = created.body;
    const chapterStream = await waitFor(
      'the chapter stream to start',
      async () => openai.callsTo('chat').find((c) => c.body.stream && c.firstTokenAt),
      60_000,
      20,
    );

    const signalledAt = Date.now();
    workerProcess!.child.kill('SIGTERM');
    const { code, at } = await workerProcess!.exited;
    assert.equal(code, 0, workerProcess!.output().slice(-2000));
    assert.ok(chapterStream.endAt !== undefined && !chapterStream.abandoned, 'the chapter stream ran to its end');
    assert.ok(at >= chapterStream.endAt!, 'the process waited for the running chapter');
    assert.ok(at - signalledAt < 20_000, `exited ${at - signalledAt} ms after SIGTERM, within the grace period`);
    const ledger = () => stack.services.knex('cost_ledger').where({ ebook_id: id, step: 'chapter' });
    assert.equal((await ledger()).length, 1, 'the finished chapter was recorded before the process exited');
    const book = await stack.services.repos.ebooks.get(id);
    assert.equal(book?.chapters.find((c) => c.index === 1)?.status, 'written');

    // Another worker takes the book over and finishes it.
    openai.latency = {};
    ({ stop: stopOtherWorker } = await startWorker(stack));
    const done = await waitFor(
      'the book to complete',
      async () => {
        const s = (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body;
        return ['completed', 'failed'].includes(s.status) ? s : undefined;
      },
      120_000,
    );
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(openai.callsTo('chat').filter((c) => c.body.stream).length, 1, 'the chapter was written once');
    assert.equal((await ledger()).length, 1, 'and paid for once');
  });
});
