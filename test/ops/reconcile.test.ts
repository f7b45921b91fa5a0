/**
 * A book whose workflow an operator terminates (no workflow code runs then) is
 * marked failed by the workers' sweep: its row, its allowance, a `failed` event;
 * a revision's likewise on the book's `revision` column, and a story's run so the
 * story can be generated again. Real Temporal dev server,
 * API, worker and PostgreSQL; the local provider server holds chapters open so the
 * runs are in flight when they are terminated.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { reconcileClosedWorkflows, startReconciler, type Reconciled } from '../../workers/reconcile';

describe('ops: books, revisions and stories whose workflow was terminated', function () {
  this.timeout(180_000);
  let provider: OpenAICompatServer;
  let apiUrl: string;
  let token: string;

  before(async () => {
    provider = await startOpenAICompatServer();
  });
  const stack = useTestStack(() => ({ ...providerEnv({ openai: provider }), TEXT_PROVIDERS: 'openai', IMAGE_PROVIDERS: 'openai' }));
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'olive' });
    // A plan without a monthly limit: the test starts three books (allowances are still counted).
    await stack.services.repos.profiles.ensure({ clerkUserId: 'olive' });
    await stack.services.repos.profiles.setSubscription('olive', 'midnights');
  });

  after(async () => {
    await provider?.close();
  });

  const deps = () => ({
    knex: stack.services.knex,
    repos: stack.services.repos,
    events: stack.services.events,
    storyEvents: stack.services.storyEvents,
    temporal: stack.client,
  });
  const anHourAgo = () => new Date(Date.now() - 3600_000);

  /** Sweeps until visibility lists the closed run (it is eventually consistent); returns what was fixed. */
  async function sweepUntilFixed(workflowId: string): Promise<Reconciled[]> {
    let fixed: Reconciled[] = [];
    await waitFor('the sweep to find the terminated run', async () => {
      fixed = await reconcileClosedWorkflows(deps(), anHourAgo());
      return fixed.some((f) => f.workflowId === workflowId);
    }, 30_000);
    return fixed;
  }

  async function postBook(): Promise<{ id: string; workflowId: string }> {
    const res = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lighthouse keeper and a clockwork gull', chapterCount: 2 } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body;
  }

  const used = async () => {
    const profile = await stack.services.repos.profiles.getByClerkId('olive');
    const rows = await stack.services.knex('ebook_allowances').where({ profile_id: profile!.id });
    return rows.reduce((n: number, r: { used: number }) => n + r.used, 0);
  };

  it('a terminated book: failed, its allowance back, a failed event; a running one is left alone', async () => {
    provider.reset();
    provider.setAlways('chapter', { kind: 'hang' }); // chapters never answer: both books stay in flight
    const doomed = await postBook();
    const alive = await postBook();
    for (const b of [doomed, alive]) {
      await waitFor('the book to be writing', async () => (await stack.services.repos.ebooks.get(b.id))?.stage === 'chapters', 30_000);
    }
    assert.equal(await used(), 2, 'both books hold an allowance');

    await stack.client.workflow.getHandle(doomed.workflowId).terminate('stopped by an operator in the test');
    const fixed = await sweepUntilFixed(doomed.workflowId);
    assert.deepEqual(
      fixed.map((f) => [f.ebookId, f.closedAs, f.what]),
      [[doomed.id, 'TERMINATED', 'book']],
    );

    const row = await stack.services.repos.ebooks.get(doomed.id);
    assert.equal(row!.status, 'failed');
    assert.equal(row!.error?.type, 'Terminated');
    const status = await api(apiUrl, 'GET', `/v1/ebooks/${doomed.id}/status`, { token });
    assert.equal(status.body.status, 'failed');
    const failedEvents = await stack.services.knex('ebook_events').where({ ebook_id: doomed.id, type: 'failed' });
    assert.equal(failedEvents.length, 1, 'readers are told the book ended');
    assert.equal(await used(), 1, 'the terminated book gave its allowance back');

    assert.equal((await stack.services.repos.ebooks.get(alive.id))!.status, 'running', 'the other book is not touched');
    assert.deepEqual(await reconcileClosedWorkflows(deps(), anHourAgo()), [], 'a second sweep fixes nothing more');
    assert.equal(await used(), 1);

    await stack.client.workflow.getHandle(alive.workflowId).terminate('test cleanup');
    await sweepUntilFixed(alive.workflowId);
  });

  it('a terminated book that waited for its outline review: failed, its allowance back', async () => {
    provider.reset();
    const res = await api(apiUrl, 'POST', '/v1/ebooks', {
      token,
      body: { prompt: 'A ferry that only sails on Sundays', chapterCount: 1, review: 'outline' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const { id, workflowId } = res.body;
    await waitFor('the review', async () => (await stack.services.repos.ebooks.get(id))?.status === 'awaiting_review', 30_000);
    const before = await used();
    await stack.client.workflow.getHandle(workflowId).terminate('stopped by an operator in the test');
    await sweepUntilFixed(workflowId);
    assert.equal((await stack.services.repos.ebooks.get(id))!.status, 'failed');
    assert.equal(await used(), before - 1);
  });

  it('the workers sweep in the background: a book terminated meanwhile ends up failed on its own', async () => {
    provider.reset();
    provider.setAlways('chapter', { kind: 'hang' });
    const sweeper = startReconciler(deps(), { intervalMs: 300, lookbackMs: 3600_000 });
    try {
      const book = await postBook();
      await waitFor('the book to be writing', async () => (await stack.services.repos.ebooks.get(book.id))?.stage === 'chapters', 30_000);
      await stack.client.workflow.getHandle(book.workflowId).terminate('stopped by an operator in the test');
      await waitFor('the sweep to mark it failed', async () => (await stack.services.repos.ebooks.get(book.id))?.status === 'failed', 30_000);
      assert.equal((await stack.services.repos.ebooks.get(book.id))!.error?.type, 'Terminated');
    } finally {
      await sweeper.stop();
    }
  });

  it('a terminated revision: the revision failed, the chapters done again, the published book unchanged', async () => {
    provider.reset(); // chapters answer again
    const book = await postBook();
    await stack.client.workflow.getHandle(book.workflowId).result();
    const before = await stack.services.repos.ebooks.get(book.id);
    assert.equal(before!.status, 'completed');

    provider.setAlways('chapter', { kind: 'hang' });
    const started = await api(apiUrl, 'POST', `/v1/ebooks/${book.id}/chapters`, { token, body: {} });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await waitFor('the revision to be writing', async () => (await stack.services.repos.ebooks.get(book.id))?.revision?.stage === 'chapters', 30_000);

    await stack.client.workflow.getHandle(started.body.workflowId).terminate('stopped by an operator in the test');
    const fixed = await sweepUntilFixed(started.body.workflowId);
    assert.deepEqual(fixed.map((f) => [f.ebookId, f.what]), [[book.id, 'revision']]);

    const after = await stack.services.repos.ebooks.get(book.id);
    assert.equal(after!.revision?.status, 'failed');
    assert.equal(after!.revision?.error?.type, 'Terminated');
    assert.equal(after!.status, 'completed', 'the book itself is still the published one');
    assert.equal(after!.fileVersion, before!.fileVersion);
    assert.ok(after!.chapters.every((c) => c.status === 'done'), JSON.stringify(after!.chapters.map((c) => c.status)));
    const events = await stack.services.knex('ebook_events').where({ ebook_id: book.id, type: 'revision' }).orderBy('id');
    assert.equal(events.at(-1).data.status, 'failed');
  });

  it('a terminated story run: failed, and the story can be generated again instead of answering 409', async () => {
    provider.reset();
    provider.setAlways('chapter', { kind: 'hang' });
    const created = await api(apiUrl, 'POST', '/v1/stories/generate', { token, body: { prompt: 'A cartographer of moving streets', chapterCount: 2 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id, workflowId } = created.body;
    await waitFor('the story to be writing', async () => (await api(apiUrl, 'GET', `/v1/stories/${id}`, { token })).body.generation?.stage === 'writing', 30_000);
    const blocked = await api(apiUrl, 'POST', `/v1/stories/${id}/regenerate`, { token, body: {} });
    assert.equal(blocked.status, 409, 'a story being generated cannot be rewritten');

    await stack.client.workflow.getHandle(workflowId).terminate('stopped by an operator in the test');
    const fixed = await sweepUntilFixed(workflowId);
    assert.deepEqual(fixed.map((f) => [f.storyId, f.what, f.closedAs]), [[id, 'story', 'TERMINATED']]);
    const story = (await api(apiUrl, 'GET', `/v1/stories/${id}`, { token })).body;
    assert.equal(story.status, 'failed');
    assert.equal(story.generation.error.type, 'Terminated');
    // Its readers hear of it too: the run's last event says how it ended.
    const last = await stack.services.knex('story_events').where({ story_id: id }).orderBy('id', 'desc').first();
    assert.equal(last?.type, 'failed');
    assert.deepEqual([last.data.revision, last.data.error.type], [1, 'Terminated']);

    provider.reset();
    const again = await api(apiUrl, 'POST', `/v1/stories/${id}/regenerate`, { token, body: {} });
    assert.equal(again.status, 202, JSON.stringify(again.body));
  });
});
