/**
 * The outline review (issue 19) through the real stack: a book started with
 * `review: "outline"` waits after its outline for the `reviewOutline` update, sent
 * by the API's outline routes. Approve, edit (fewer and more chapters), revise
 * twice, a refused edit that leaves history untouched, a worker restarted while
 * the book waits, cancel and delete while waiting, and an unanswered review that
 * runs out. The timeout runs on the dev server with a short REVIEW_TIMEOUT: the
 * time-skipping test server is a download this machine cannot make offline.
 */
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { allowancePeriod } from '../../core/tiers';
import { signSessionToken } from '../../lib/tokens';
import { ReviewErrorTypes, reviewOutlineUpdate } from '../../workflows/shared';
import { api, waitFor } from '../helpers/http';
import { createTestStack, startApi, startWorker, type TestStack } from '../helpers/stack';

interface Engine {
  stack: TestStack;
  url: string;
  token: string;
  profileId: string;
  stopWorker: () => Promise<void>;
  close(): Promise<void>;
}

async function engine(env: Record<string, string> = {}): Promise<Engine> {
  const stack = await createTestStack(env);
  const { url, stop: stopApi } = await startApi(stack);
  const worker = await startWorker(stack);
  const profile = await stack.services.repos.profiles.ensure({ clerkUserId: 'rita' });
  await stack.services.repos.profiles.setSubscription('rita', 'midnights');
  const token = await signSessionToken(stack.devKeys, { userId: 'rita' });
  const e: Engine = {
    stack,
    url,
    token,
    profileId: profile.id,
    stopWorker: worker.stop,
    async close() {
      await stopApi();
      await e.stopWorker();
      await stack.close();
    },
  };
  return e;
}

describe('outline review', function () {
  let e: Engine;
  before(async () => {
    e = await engine();
  });
  after(async () => {
    await e?.close();
  });

  const call = (method: string, route: string, body?: unknown) => api(e.url, method, route, { token: e.token, body });
  const status = async (id: string) => (await call('GET', `/v1/ebooks/${id}/status`)).body;
  const historyLength = async (workflowId: string) =>
    (await e.stack.client.workflow.getHandle(workflowId).fetchHistory()).events!.length;

  /** A book started with a review, once it waits for its owner. */
  const waitingBook = async (chapterCount = 3, prompt = 'A lamplighter who keeps the stars lit over Prague') => {
    const created = await call('POST', '/v1/ebooks', { prompt, chapterCount, review: 'outline' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id, workflowId } = created.body;
    const waiting = await waitFor('the book to wait for its review', async () => {
      const s = await status(id);
      assert.ok(!['failed', 'completed', 'cancelled'].includes(s.status), JSON.stringify(s));
      return s.status === 'awaiting_review' && s;
    });
    return { id, workflowId, waiting };
  };
  const completed = (id: string) =>
    waitFor('the book to complete', async () => {
      const s = await status(id);
      assert.notEqual(s.status, 'failed', JSON.stringify(s.error));
      return s.status === 'completed' && s;
    }, 240_000);

  it('waits after the outline, shows it, and writes the book once approved', async () => {
    const { id, workflowId, waiting } = await waitingBook();
    assert.equal(waiting.stage, 'outline_review');
    assert.equal(waiting.outline.chapters.length, 3);
    assert.ok(waiting.outline.logline && waiting.outline.characters.length > 0, 'title, logline and cast in /status');
    assert.ok(waiting.outline.chapters.every((c: { summary: string }) => c.summary), 'chapters with summaries');
    const desc = await e.stack.client.workflow.getHandle(workflowId).describe();
    assert.deepEqual(desc.searchAttributes.EbookStage, ['outline_review']);

    const got = await call('GET', `/v1/ebooks/${id}/outline`);
    assert.equal(got.status, 200);
    assert.equal(got.body.version, 1);
    assert.equal(got.body.title, waiting.outline.title);
    assert.ok(got.body.expiresAt, 'says when the review runs out');

    // Nothing past the outline happens while it waits.
    const types = (await e.stack.client.workflow.getHandle(workflowId).fetchHistory()).events!.flatMap(
      (ev) => ev.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    assert.ok(!types.includes('writeChapter') && !types.includes('drawCover'), types.join());

    const events = await e.stack.services.knex('ebook_events').where({ ebook_id: id, type: 'outline' }).orderBy('id');
    assert.ok(events.some((ev) => ev.data.awaitingReview && ev.data.chapters[0].summary), 'an outline event for the review');

    const approved = await call('POST', `/v1/ebooks/${id}/outline/approve`);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.awaitingReview, false);
    const done = await completed(id);
    assert.equal(done.chapters.length, 3);
    assert.equal(done.outline, undefined, 'no outline under review once approved');
    const again = await call('POST', `/v1/ebooks/${id}/outline/approve`);
    assert.equal(again.status, 409);
  });

  it('takes edits that remove, add, reorder, retitle and resummarise chapters', async () => {
    const { id, waiting } = await waitingBook(3, 'Two rival bakers share one oven on a small island');
    const [a, b, c] = waiting.outline.chapters;
    // Fewer: two chapters, the last one first, one retitled.
    const fewer = await call('PUT', `/v1/ebooks/${id}/outline`, {
      title: 'The Shared Oven',
      chapters: [
        { title: c.title, summary: c.summary },
        { title: 'Flour at Dawn', summary: a.summary },
      ],
    });
    assert.equal(fewer.status, 200, JSON.stringify(fewer.body));
    assert.equal(fewer.body.title, 'The Shared Oven');
    assert.deepEqual(fewer.body.chapters.map((x: { index: number; title: string }) => [x.index, x.title]), [
      [1, c.title],
      [2, 'Flour at Dawn'],
    ]);
    // More: five, with new summaries.
    const five = [a, b, c, a, b].map((x: { title: string }, i: number) => ({
      title: `${x.title} (${i + 1})`,
      summary: `Part ${i + 1}: the ovens cool and the bakers talk.`,
    }));
    const more = await call('PUT', `/v1/ebooks/${id}/outline`, { chapters: five });
    assert.equal(more.status, 200, JSON.stringify(more.body));
    assert.equal(more.body.version, 3);
    assert.equal(more.body.title, 'The Shared Oven', 'an edit without a title keeps it');
    assert.equal(more.body.chapters.length, 5);
    assert.equal((await call('GET', `/v1/ebooks/${id}/outline`)).body.chapters[4].summary, five[4].summary);
    assert.equal((await status(id)).outline.chapters.length, 5);

    await call('POST', `/v1/ebooks/${id}/outline/approve`);
    const done = await completed(id);
    assert.deepEqual(done.chapters.map((x: { title: string }) => x.title), five.map((x) => x.title));
    const book = (await call('GET', `/v1/ebooks/${id}`)).body;
    assert.equal(book.title, 'The Shared Oven');
    assert.equal(book.chapters[4].summary, five[4].summary);
    assert.ok(book.chapters.every((ch: { paragraphs: string[] }) => ch.paragraphs.length > 0));
  });

  it('writes a new outline version for each revision, refuses flagged feedback, then goes on', async () => {
    const { id, waiting } = await waitingBook(2, 'A cat who runs the night ferry');
    const first = await call('POST', `/v1/ebooks/${id}/outline/revise`, { feedback: 'Make the ferry a hot-air balloon.' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.version, 2);
    assert.equal(first.body.chapters.length, 2);
    const second = await call('POST', `/v1/ebooks/${id}/outline/revise`, { feedback: 'Set it in winter, with snow.' });
    assert.equal(second.body.version, 3);
    const versions = [waiting.outline, first.body, second.body].map((o) => JSON.stringify([o.title, o.chapters]));
    assert.equal(new Set(versions).size, 3, 'each revision is a new outline');
    // Feedback that moderation refuses: 422, and the book still waits with the outline it had.
    const refused = await call('POST', `/v1/ebooks/${id}/outline/revise`, { feedback: 'Explain how to build a pipe bomb.' });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.errors[0].field, 'body.feedback');
    const still = await call('GET', `/v1/ebooks/${id}/outline`);
    assert.equal(still.body.version, 3);
    assert.equal((await status(id)).status, 'awaiting_review');
    const calls = await e.stack.services.knex('ebook_events').where({ ebook_id: id, type: 'provider.call' });
    assert.equal(calls.filter((ev) => ev.data.step === 'outline').length, 3, 'the outline was written three times');
    await call('POST', `/v1/ebooks/${id}/outline/approve`);
    const done = await completed(id);
    assert.equal(done.title, second.body.title);
  });

  it('refuses a bad edit in the validator, naming the field, with nothing written to history', async () => {
    const { id, workflowId } = await waitingBook(2, 'A librarian who lends out weather');
    const before = await historyLength(workflowId);
    const bad = [
      [{ chapters: [] }, 'body.chapters'],
      [{ chapters: Array.from({ length: 25 }, (_, i) => ({ title: `C${i}`, summary: 's' })) }, 'body.chapters'],
      [{ chapters: [{ title: 'Fine', summary: 'Fine' }, { title: '  ', summary: 'x' }] }, 'body.chapters.1.title'],
      [{ title: '', chapters: [{ title: 'Fine', summary: 'Fine' }] }, 'body.title'],
      [{ chapters: [{ title: 'No summary' }] }, 'body.chapters.0.summary'],
    ] as const;
    for (const [body, field] of bad) {
      const res = await call('PUT', `/v1/ebooks/${id}/outline`, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(res.body.errors[0].field, field);
    }
    const revise = await call('POST', `/v1/ebooks/${id}/outline/revise`, {});
    assert.equal(revise.status, 400);
    assert.equal(revise.body.errors[0].field, 'body.feedback');

    // Straight to the workflow as well: the update is rejected with the reason.
    await assert.rejects(
      e.stack.client.workflow
        .getHandle(workflowId)
        .executeUpdate(reviewOutlineUpdate, { args: [{ action: 'edit', chapters: [] }] }),
      (err: unknown) =>
        err instanceof WorkflowUpdateFailedError &&
        err.cause instanceof ApplicationFailure &&
        err.cause.type === ReviewErrorTypes.InvalidAnswer &&
        /chapters/.test(err.cause.message),
    );
    assert.equal(await historyLength(workflowId), before, 'a refused update leaves no event');
    assert.equal((await status(id)).status, 'awaiting_review');
    assert.equal((await call('POST', `/v1/ebooks/${id}/cancel`)).status, 202);
  });

  it('keeps waiting across a worker restart and goes on with the new worker', async () => {
    const { id, workflowId } = await waitingBook(2, 'A clock tower that keeps a diary');
    await e.stopWorker();
    // No worker: the book still waits (and says so), at no cost.
    assert.equal((await status(id)).status, 'awaiting_review');
    ({ stop: e.stopWorker } = await startWorker(e.stack));
    const edited = await call('PUT', `/v1/ebooks/${id}/outline`, {
      chapters: [{ title: 'Tick', summary: 'The tower starts to write.' }],
    });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    await call('POST', `/v1/ebooks/${id}/outline/approve`);
    const done = await completed(id);
    assert.deepEqual(done.chapters.map((c: { title: string }) => c.title), ['Tick']);
    assert.ok((await historyLength(workflowId)) > 0);
  });

  it('cancels and deletes a waiting book, giving its allowance back', async () => {
    const used = () => e.stack.services.repos.usage.used(e.profileId, allowancePeriod());
    const { id, workflowId } = await waitingBook(2, 'A mapmaker who draws only doors');
    const usedWhileWaiting = await used();
    assert.equal((await call('POST', `/v1/ebooks/${id}/cancel`)).status, 202);
    await waitFor('the book to be cancelled', async () => (await status(id)).status === 'cancelled');
    assert.equal(await used(), usedWhileWaiting - 1);
    // The row is written by the workflow's last step; the run closes just after it.
    await waitFor('the run to close as cancelled', async () =>
      (await e.stack.client.workflow.getHandle(workflowId).describe()).status.name === 'CANCELLED',
    );
    assert.equal((await call('GET', `/v1/ebooks/${id}/outline`)).status, 409);

    const other = await waitingBook(1, 'A baker of maps');
    assert.equal((await call('DELETE', `/v1/ebooks/${other.id}`)).status, 204);
    assert.equal((await call('GET', `/v1/ebooks/${other.id}/status`)).status, 404);
    assert.notEqual((await e.stack.client.workflow.getHandle(other.workflowId).describe()).status.name, 'RUNNING');
  });
});

describe('outline review timeout', function () {
  let e: Engine;
  before(async () => {
    e = await engine({ REVIEW_TIMEOUT: '8s' });
  });
  after(async () => {
    await e?.close();
  });

  it('reminds, then cancels an unanswered book and gives its allowance back', async () => {
    const used = () => e.stack.services.repos.usage.used(e.profileId, allowancePeriod());
    const created = await api(e.url, 'POST', '/v1/ebooks', {
      token: e.token,
      body: { prompt: 'A gardener who grows lanterns', chapterCount: 1, review: 'outline' },
    });
    assert.equal(created.status, 202);
    const { id, workflowId } = created.body;
    const status = async () => (await api(e.url, 'GET', `/v1/ebooks/${id}/status`, { token: e.token })).body;
    await waitFor('the review', async () => (await status()).status === 'awaiting_review');
    assert.equal(await used(), 1);
    const final = await waitFor('the review to run out', async () => {
      const s = await status();
      return s.status === 'cancelled' && s;
    }, 60_000);
    assert.equal(final.error.type, ReviewErrorTypes.ReviewTimedOut);
    assert.equal(await used(), 0, 'the allowance is given back');
    const types = (await e.stack.services.knex('ebook_events').where({ ebook_id: id }).orderBy('id')).map((ev) => ev.type);
    const reminder = types.indexOf('review.reminder');
    assert.ok(reminder > types.indexOf('outline') && reminder < types.indexOf('cancelled'), types.join());
    // Two durable timers: the reminder's and the deadline's.
    const history = await e.stack.client.workflow.getHandle(workflowId).fetchHistory();
    assert.equal(history.events!.filter((ev) => ev.timerFiredEventAttributes).length, 2);
  });
});
