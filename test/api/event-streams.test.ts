/**
 * Following a book as a frontend does, beyond its first run:
 * - a single chapter's rewrite shows in /status (`revision`, kind chapter) from the
 *   moment it is started until it ends, and on the event stream as a run of its own
 *   (started … revision … completed, the terminal event last, one `completed`);
 * - `Last-Event-ID` that is not an event id is a 400 naming the header (or the
 *   query parameter), on the book's and the story's stream; an id the stream never
 *   sent is a position: the events after it follow;
 * - the outline event of a book made from a story names who wrote it, and says
 *   offline when that was the offline writer.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { collectSse, type SseEvent } from '../providers/sse-client';

describe('event streams and runs after the first', function () {
  this.timeout(600_000);
  const stack = useTestStack();
  let url: string;
  let token: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'robin' });
    await stack.services.repos.profiles.ensure({ clerkUserId: 'robin' });
    await stack.services.repos.profiles.setSubscription('robin', 'eras_tour');
  });

  const auth = () => ({ authorization: `Bearer ${token}` });
  const status = async (id: string) => (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body;
  const completedBook = async (body: Record<string, unknown>) => {
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { chapterCount: 2, ...body } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitFor(`book ${id}`, async () => {
      const s = await status(id);
      if (s.status === 'failed') assert.fail(JSON.stringify(s.error));
      return s.status === 'completed';
    }, 300_000);
    return id;
  };
  const ended = (run: number) => (evs: SseEvent[]) => evs.some((e) => ['completed', 'failed', 'cancelled'].includes(e.event) && e.data.run === run);

  let first: string;
  let lastOfFirst: number;

  it('a chapter rewrite shows in /status while it runs and as a run of its own on the stream', async () => {
    first = await completedBook({ prompt: 'A bell-maker teaches a crow to ring' });
    const firstRun = await collectSse(`${url}/v1/ebooks/${first}/events`, auth(), ended(1));
    lastOfFirst = firstRun.at(-1)!.id;

    const before = await status(first);
    assert.equal(before.fileVersion, 1);
    assert.equal(before.revision, null);
    const started = await api(url, 'POST', `/v1/ebooks/${first}/chapters/2/regenerate`, { token, body: { feedback: 'More snow.' } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    // At once, before the rewrite could have ended (its files take several activities).
    const running = await status(first);
    assert.equal(running.revision.kind, 'chapter');
    assert.equal(running.revision.chapter, 2);
    assert.equal(running.revision.step, 'chapters');
    assert.equal(running.revision.workflowId, started.body.workflowId);
    assert.equal(running.revision.fromVersion, 1);
    assert.ok(Date.parse(running.revision.startedAt) > 0, 'startedAt');
    assert.equal(running.fileVersion, 1);
    // Its stages as they are reported, until it ends.
    const stages = new Set<string>();
    const done = await waitFor('the rewrite', async () => {
      const s = await status(first);
      stages.add(s.revision.stage);
      assert.equal(s.revision.kind, 'chapter');
      assert.ok(s.revision.progress >= 0 && s.revision.progress <= 1);
      return s.revision.status === 'running' ? undefined : s;
    }, 300_000);
    assert.equal(done.revision.status, 'completed', JSON.stringify(done.revision));
    assert.equal(done.revision.stage, 'completed');
    assert.equal(done.revision.toVersion, 2);
    assert.equal(done.revision.progress, 1);
    assert.ok(Date.parse(done.revision.finishedAt) >= Date.parse(done.revision.startedAt));
    assert.equal(done.fileVersion, 2);
    assert.ok(Date.parse(done.fileVersionAt) > Date.parse(before.fileVersionAt), 'a new version, a new time');
    assert.ok(done.chapters.every((c: { status: string }) => c.status === 'done'), JSON.stringify(done.chapters));

    // A fresh stream starts at the rewrite: started (kind chapter) first, its terminal event last.
    const events = await collectSse(`${url}/v1/ebooks/${first}/events`, auth(), ended(2));
    const types = events.map((e) => e.event);
    assert.equal(types[0], 'started', types.join(', '));
    assert.deepEqual(events[0].data, { kind: 'chapter', chapter: 2, workflowId: started.body.workflowId, run: 2 });
    assert.ok(events.every((e) => e.data.run === 2), 'every event names run 2');
    assert.equal(types.at(-1), 'completed', types.join(', '));
    assert.equal(types.filter((t) => t === 'completed').length, 1, 'one completed, the last event');
    assert.deepEqual(events.at(-1)!.data, { version: 2, run: 2 });
    const revisions = events.filter((e) => e.event === 'revision');
    assert.ok(revisions.length >= 2, types.join(', '));
    assert.ok(revisions.every((e) => e.data.chapter === 2 && e.data.step === 'chapters' && e.data.fromVersion === 1));
    assert.deepEqual(revisions.at(-1)!.data, { step: 'chapters', chapter: 2, stage: 'completed', status: 'completed', fromVersion: 1, toVersion: 2, run: 2 });
    assert.ok(types.includes('chapter.written'));
  });

  it('a Last-Event-ID that is not an event id is a 400 naming it, on book and story streams', async () => {
    const story = await api(url, 'POST', '/v1/stories', { token, body: { title: 'Frost', content: 'The pond froze.\n\nThe geese left.' } });
    assert.equal(story.status, 201);
    for (const path of [`/v1/ebooks/${first}/events`, `/v1/stories/${story.body.id}/events`]) {
      for (const [headers, query, field] of [
        [{ 'last-event-id': 'banana' }, '', 'header.Last-Event-ID'],
        [{ 'last-event-id': '' }, '', 'header.Last-Event-ID'],
        [{ 'last-event-id': '-3' }, '', 'header.Last-Event-ID'],
        [{ 'last-event-id': '12.5' }, '', 'header.Last-Event-ID'],
        [{}, '?lastEventId=latest', 'query.lastEventId'],
        [{}, '?lastEventId=1&lastEventId=2', 'query.lastEventId'],
      ] as const) {
        const res = await api(url, 'GET', path + query, { token, headers });
        assert.equal(res.status, 400, `${path}${query} ${JSON.stringify(headers)}`);
        assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
        assert.equal(res.body.status, 400);
        assert.equal(res.body.errors[0].field, field);
        assert.match(res.body.detail, new RegExp(`^${field.replace('.', '\\.')}:`));
      }
    }
  });

  it('an id the stream never sent is a position: the events after it follow', async () => {
    // Another book's last event: every event of this book's stream came after it.
    const second = await completedBook({ prompt: 'A lantern that only lights for strangers' });
    const all = await collectSse(`${url}/v1/ebooks/${second}/events`, { ...auth(), 'last-event-id': '0' }, ended(1));
    const fromForeign = await collectSse(`${url}/v1/ebooks/${second}/events`, { ...auth(), 'last-event-id': String(lastOfFirst) }, ended(1));
    assert.ok(all.length > 3 && all.every((e) => e.id > lastOfFirst));
    assert.deepEqual(fromForeign.map((e) => e.id), all.map((e) => e.id));
  });

  it("a book from a story: its outline event names the story's writer, offline when that was the offline writer", async () => {
    // Written by the engine (the offline writer in this stack).
    const generated = await api(url, 'POST', '/v1/stories/generate', { token, body: { prompt: 'A snow hare who counts stars', chapterCount: 2 } });
    assert.equal(generated.status, 202, JSON.stringify(generated.body));
    const written = await waitFor('the story', async () => {
      const s = (await api(url, 'GET', `/v1/stories/${generated.body.id}`, { token })).body;
      if (s.status === 'failed') assert.fail(JSON.stringify(s.generation));
      return s.status === 'completed' ? s : undefined;
    });
    assert.equal(written.generation.providers.text, 'offline');
    // And by hand.
    const hand = await api(url, 'POST', '/v1/stories', { token, body: { title: 'Thaw', content: 'Ice cracked.\n\nWater ran.\n\nBirds came back.' } });
    await api(url, 'PUT', `/v1/stories/${hand.body.id}`, { token, body: { status: 'completed' } });

    for (const [storyId, provider, offline] of [
      [generated.body.id, 'offline', true],
      [hand.body.id, 'author', false],
    ] as const) {
      const id = await completedBook({ storyId });
      const events = await collectSse(`${url}/v1/ebooks/${id}/events`, auth(), ended(1));
      const outline = events.find((e) => e.event === 'outline');
      assert.ok(outline, events.map((e) => e.event).join(', '));
      assert.equal(outline.data.provider, provider);
      assert.equal(outline.data.offline, offline, `a book from a story written by ${provider}`);
    }
  });
});
