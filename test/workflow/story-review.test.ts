/**
 * A story run started with `review: "outline"` (POST /v1/stories/generate) waits
 * after its storyline for the `reviewOutline` update, as a book waits after its
 * outline: the storyline shows on the story, a refused edit names its field, an
 * edit changes the sections (their number too), a revision writes a new
 * storyline, the approved one is what the sections are written from, and an
 * unanswered one ends the run (a short REVIEW_TIMEOUT on the dev server). Real
 * Temporal dev server, worker, API and PostgreSQL; offline providers.
 */
import assert from 'node:assert/strict';
import { signSessionToken } from '../../lib/tokens';
import { api, waitFor } from '../helpers/http';
import { useTestStack } from '../helpers/stack';

describe('story storyline review', function () {
  const stack = useTestStack();
  let url: string;
  let token: string;
  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'sam' });
  });

  const call = (method: string, route: string, body?: unknown) => api(url, method, route, { token, body });
  const story = async (id: string) => (await call('GET', `/v1/stories/${id}`)).body;

  it('waits after the storyline, takes an edit and a revision, and writes the approved one', async () => {
    const created = await call('POST', '/v1/stories/generate', {
      prompt: 'Two lighthouses trade letters across a bay',
      chapterCount: 2,
      review: 'outline',
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id, workflowId } = created.body;
    const waiting = await waitFor('the storyline review', async () => {
      const s = await story(id);
      assert.notEqual(s.status, 'failed', JSON.stringify(s.generation));
      return s.generation?.stage === 'outline_review' && s;
    });
    assert.equal(waiting.status, 'generating');
    assert.equal(waiting.generation.review.chapters.length, 2, 'the storyline under review on the story');
    const held = await call('GET', `/v1/stories/${id}/outline`);
    assert.equal(held.status, 200);
    assert.equal(held.body.version, 1);

    const before = (await stack.client.workflow.getHandle(workflowId).fetchHistory()).events!.length;
    const bad = await call('PUT', `/v1/stories/${id}/outline`, { chapters: [{ title: 'Only a title' }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.chapters.0.summary');
    assert.equal((await stack.client.workflow.getHandle(workflowId).fetchHistory()).events!.length, before);

    const revised = await call('POST', `/v1/stories/${id}/outline/revise`, { feedback: 'Make it winter.' });
    assert.equal(revised.status, 200, JSON.stringify(revised.body));
    assert.equal(revised.body.version, 2);

    const three = [...revised.body.chapters, { title: 'The Last Letter', summary: 'The bay freezes and they meet.' }].map(
      (c: { title: string; summary: string }) => ({ title: c.title, summary: c.summary }),
    );
    const edited = await call('PUT', `/v1/stories/${id}/outline`, { title: 'Letters Across the Ice', chapters: three });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.equal(edited.body.chapters.length, 3);

    const approved = await call('POST', `/v1/stories/${id}/outline/approve`);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const done = await waitFor('the story to be written', async () => {
      const s = await story(id);
      assert.notEqual(s.status, 'failed', JSON.stringify(s.generation));
      return s.status === 'completed' && s;
    });
    assert.equal(done.title, 'Letters Across the Ice');
    assert.deepEqual(done.generation.sections, { done: 3, total: 3 });
    assert.deepEqual(
      done.metadata.outline.chapters.map((c: { title: string }) => c.title),
      three.map((c) => c.title),
    );
    assert.equal(done.generation.review, null, 'no storyline under review once approved');
    assert.equal((await call('POST', `/v1/stories/${id}/outline/approve`)).status, 409);
  });

  it('a story run without a review goes straight through, as before', async () => {
    const created = await call('POST', '/v1/stories/generate', { prompt: 'A kettle that sings at dawn', chapterCount: 1 });
    assert.equal(created.status, 202);
    const done = await waitFor('the story', async () => {
      const s = await story(created.body.id);
      return ['completed', 'failed'].includes(s.status) && s;
    });
    assert.equal(done.status, 'completed');
    assert.equal((await call('GET', `/v1/stories/${created.body.id}/outline`)).status, 409);
  });
});

describe('story storyline review timeout', function () {
  const stack = useTestStack({ REVIEW_TIMEOUT: '6s' });
  let url: string;
  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
  });

  it('an unanswered storyline ends the run failed with ReviewTimedOut, after a reminder', async () => {
    const token = await signSessionToken(stack.devKeys, { userId: 'tia' });
    const created = await api(url, 'POST', '/v1/stories/generate', {
      token,
      body: { prompt: 'A bridge that remembers footsteps', chapterCount: 1, review: 'outline' },
    });
    assert.equal(created.status, 202);
    const failed = await waitFor('the review to run out', async () => {
      const s = (await api(url, 'GET', `/v1/stories/${created.body.id}`, { token })).body;
      return s.status === 'failed' && s;
    }, 60_000);
    assert.equal(failed.generation.error.type, 'ReviewTimedOut');
    const types = (await stack.services.knex('story_events').where({ story_id: created.body.id }).orderBy('id')).map((e) => e.type);
    assert.ok(types.includes('review.reminder'), types.join());
  });
});
