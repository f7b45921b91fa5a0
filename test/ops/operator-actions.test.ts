/**
 * What operators do in the Temporal Web UI, done with the real `temporal` CLI against the
 * dev server, and the book's row following each: a reset after the provider's fault is
 * fixed (to the first workflow task, and to a point after the outline) brings a failed
 * book back to running and then completed with its files, its allowance charged once and
 * no breaker refusing the fixed provider; a terminate marks it failed and gives the
 * allowance back; a cancel behaves as the API's cancel.
 */
import assert from 'node:assert/strict';
import { createTestStack, startApi, startWorker, type TestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { resolveTemporalBinary } from '../../wiring/temporal';
import { reconcileClosedWorkflows } from '../../workers/reconcile';

describe('operator actions with the temporal CLI: the row follows the operator', function () {
  this.timeout(180_000);
  let stack: TestStack;
  let openai: OpenAICompatServer;
  let apiUrl: string;
  let stopApi: () => Promise<void>;
  let stopWorker: () => Promise<void>;
  let token: string;
  const user = 'operator-olga';

  before(async () => {
    openai = await startOpenAICompatServer();
    stack = await createTestStack({
      ...providerEnv({ openai }),
      TEXT_PROVIDERS: 'openai',
      IMAGE_PROVIDERS: 'offline',
      // A long cool-down: only a deliberate close lets the fixed provider be called again.
      PROVIDER_BREAKER_COOLDOWN_MS: '600000',
    });
    ({ url: apiUrl, stop: stopApi } = await startApi(stack));
    ({ stop: stopWorker } = await startWorker(stack));
    token = await signSessionToken(stack.devKeys, { userId: user });
    // An unlimited plan: the allowance is counted (and must come out right) but never refuses a book here.
    await api(apiUrl, 'GET', '/v1/users/me/subscription', { token });
    await stack.services.repos.profiles.setSubscription(user, 'midnights');
  });

  after(async () => {
    await stopApi?.();
    await stopWorker?.();
    await stack?.close();
    await openai?.close();
  });

  const temporal = (...args: string[]) =>
    exec(resolveTemporalBinary(), [...args, '--address', stack.env.address, '--namespace', 'default'], { timeout: 60_000 });

  async function postBook(): Promise<{ id: string; workflowId: string }> {
    const res = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2 } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body;
  }

  const row = async (id: string) => (await stack.services.repos.ebooks.get(id))!;
  const used = async () => {
    const profile = await stack.services.repos.profiles.getByClerkId(user);
    const rows = await stack.services.knex('ebook_allowances').where({ profile_id: profile!.id });
    return rows.reduce((n: number, r: { used: number }) => n + r.used, 0);
  };
  const until = (id: string, status: string) =>
    waitFor(`the book to be ${status}`, async () => ((await row(id)).status === status ? row(id) : false), 120_000);

  /** The book's history, from the CLI, as JSON events. */
  async function history(workflowId: string): Promise<Array<Record<string, any>>> {
    const { stdout } = await temporal('workflow', 'show', '--workflow-id', workflowId, '--output', 'json');
    return JSON.parse(stdout).events;
  }

  it('a reset to the first workflow task, after a 401 is fixed: running, then completed with files, charged once', async () => {
    openai.reset();
    const before = await used();
    openai.setAlways('chat', { kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided' } } });
    const book = await postBook();
    const failed = await until(book.id, 'failed');
    assert.match(JSON.stringify(failed.error), /401|key|auth/i);
    assert.equal(await used(), before, 'the failed book gave its allowance back');

    openai.setAlways('chat', undefined); // the key is fixed
    await temporal('workflow', 'reset', '--workflow-id', book.workflowId, '--type', 'FirstWorkflowTask', '--reason', 'key fixed', '--yes');
    const done = await until(book.id, 'completed');
    assert.ok(done.pdfKey && done.epubKey, 'its files are offered');
    assert.equal(done.error, null);
    assert.equal(done.progress, 1);
    assert.equal(await used(), before + 1, 'the allowance is charged once');
    const reopened = await stack.services.knex('ebook_events').where({ ebook_id: book.id, type: 'stage' }).whereRaw(`data->>'reopened' = 'true'`);
    assert.equal(reopened.length, 1, 'readers saw the book taken back to running, once');
    const files = await api(apiUrl, 'GET', `/v1/ebooks/${book.id}`, { token });
    assert.ok(files.body.pdfUrl, 'the API offers the PDF');
  });

  it('a reset to a point after the outline: the outline is kept, the chapters are written, the row completes', async () => {
    openai.reset();
    const before = await used();
    // The outline passes; every chapter is refused until the fault is fixed.
    openai.setAlways('chapter', { kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided' } } });
    const book = await postBook();
    await until(book.id, 'failed');
    assert.equal(await used(), before, 'the failed book holds no allowance');
    const outlineCalls = openai.callsTo('chat').filter((c) => c.body?.stream !== true).length;

    const events = await history(book.workflowId);
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'writeOutline');
    assert.ok(scheduled, 'the history has the outline step');
    const completed = events.find((e) => e.activityTaskCompletedEventAttributes?.scheduledEventId === scheduled.eventId);
    assert.ok(completed, 'the outline step completed');
    const after = events.find(
      (e) => Number(e.eventId) > Number(completed.eventId) && e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
    );
    assert.ok(after, 'a workflow task completed after the outline');

    openai.setAlways('chapter', undefined);
    await temporal('workflow', 'reset', '--workflow-id', book.workflowId, '--event-id', String(after.eventId), '--reason', 'key fixed', '--yes');
    const done = await until(book.id, 'completed');
    assert.ok(done.pdfKey && done.epubKey);
    assert.equal(await used(), before + 1, 'charged once');
    assert.equal(openai.callsTo('chat').filter((c) => c.body?.stream !== true).length, outlineCalls, 'the outline was not written again');
  });

  it('terminate marks the book failed and gives the allowance back; cancel behaves as the API cancel', async () => {
    openai.reset();
    openai.setAlways('chapter', { kind: 'hang' });
    const before = await used();
    const terminated = await postBook();
    const cancelled = await postBook();
    for (const b of [terminated, cancelled]) {
      await waitFor('the book to be writing', async () => (await row(b.id)).stage === 'chapters', 60_000);
    }
    assert.equal(await used(), before + 2);

    await temporal('workflow', 'terminate', '--workflow-id', terminated.workflowId, '--reason', 'stuck');
    const deps = { repos: stack.services.repos, events: stack.services.events, storyEvents: stack.services.storyEvents, temporal: stack.client };
    await waitFor('the sweep to find the terminated run', async () => {
      await reconcileClosedWorkflows(deps, new Date(Date.now() - 3600_000));
      return (await row(terminated.id)).status === 'failed';
    }, 60_000);
    assert.equal((await row(terminated.id)).error?.type, 'Terminated');

    await temporal('workflow', 'cancel', '--workflow-id', cancelled.workflowId);
    await until(cancelled.id, 'cancelled');
    assert.equal(await used(), before, 'both allowances are back');
    const profile = await stack.services.repos.profiles.getByClerkId(user);
    const recorded = await stack.services.repos.activities.listForUser(profile!.id);
    assert.ok(
      recorded.some((a) => a.type === 'ebook_cancelled' && (a.data as { ebookId?: string }).ebookId === cancelled.id),
      'the cancel is in the owner\'s activity, as an API cancel would be',
    );
    openai.setAlways('chapter', undefined);
  });
});
