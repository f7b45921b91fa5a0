/**
 * Stories written by the engine, books made from them, and the AI routes, all
 * through the real stack: API, Temporal, worker, PostgreSQL, and the local
 * OpenAI-compatible server as the text, image and moderation provider (so every
 * provider call is counted, and a prompt containing "forbidden" is refused).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { useTestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { signSessionToken } from '../../lib/tokens';
import { createApp } from '../../api/app';
import { clerkSettings } from '../../lib/dev-keys';
import { createLogger } from '../../lib/logger';
import { splitStory, storyParagraphs } from '../../activities/story-books';
import { createOpenAIModerator } from '../../activities/moderation';
import { createProviders, type Providers } from '../../wiring/providers';
import { collectSse } from '../providers/sse-client';
import { storyKeys } from '../../activities/stories';

const squash = (t: string) => t.replace(/\s+/g, ' ').trim();

describe('story generation, books from stories, AI routes', function () {
  this.timeout(180_000);
  let server: OpenAICompatServer;
  let url: string;
  let alice: string;
  let bob: string;
  let aliceProfile: string;

  before(async () => {
    server = await startOpenAICompatServer();
  });
  const stack = useTestStack(() => providerEnv({ openai: server }));
  before(async () => {
    ({ url } = await stack.startApi());
    // OpenAI's moderation endpoint on the local server: it flags any text containing "forbidden".
    const moderate = createOpenAIModerator({ apiKey: 'sk-test', baseURL: `${server.url}/v1` });
    await stack.startWorker({ ...createProviders(stack.config), moderate } as Providers);
    alice = await signSessionToken(stack.devKeys, { userId: 'alice' });
    bob = await signSessionToken(stack.devKeys, { userId: 'bob' });
    aliceProfile = (await stack.services.repos.profiles.ensure({ clerkUserId: 'alice' })).id;
    await stack.services.repos.profiles.setSubscription('alice', 'midnights');
  });
  after(async () => {
    await server?.close();
  });

  const story = async (id: string, token = alice) => api(url, 'GET', `/v1/stories/${id}`, { token });
  const settled = (id: string, revision = 1) =>
    waitFor(`story ${id} r${revision} to end`, async () => {
      const s = (await story(id)).body;
      return s.generation?.revision === revision && ['completed', 'failed', 'published'].includes(s.status) ? s : undefined;
    });
  const countStories = async () => Number((await stack.services.knex('stories').count({ n: '*' }))[0].n);

  let storyId: string;

  it('writes a story as a workflow: storyline and text stored on the story, one story_created event, ledger rows under the user', async () => {
    const created = await api(url, 'POST', '/v1/stories/generate', {
      token: alice,
      body: { prompt: 'A cartographer maps a city that rearranges itself at night', chapterCount: 3, era: 'midnights', mood: 'wistful' },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    storyId = created.body.id;
    assert.equal(created.body.workflowId, `story-${storyId}-r1`);
    assert.equal(created.body.status, 'generating');
    assert.equal(created.headers.get('location'), `/v1/stories/${storyId}`);

    const done = await settled(storyId);
    assert.equal(done.status, 'completed', JSON.stringify(done.generation));
    assert.notEqual(done.title, 'Untitled story');
    assert.ok(done.words > 50, `a story of ${done.words} words`);
    assert.equal(done.generation.progress, 1);
    assert.deepEqual(done.generation.sections, { done: 3, total: 3 });
    assert.equal(done.metadata.outline.chapters.length, 3);
    const paragraphs = storyParagraphs(done.content);
    assert.equal(
      done.metadata.outline.chapters.reduce((n: number, c: { paragraphs: number }) => n + c.paragraphs, 0),
      paragraphs.length,
      'the storyline records how many paragraphs each section has',
    );
    assert.equal(done.promptData.prompt, 'A cartographer maps a city that rearranges itself at night');

    const events = await stack.services.knex('user_activities').where({ activity_type: 'story_created' }).whereRaw(`activity_data->>'storyId' = ?`, [storyId]);
    assert.equal(events.length, 1);
    const rows = await stack.services.knex('cost_ledger').where({ story_id: storyId }).orderBy('id');
    assert.deepEqual(rows.map((r) => r.step).sort(), ['story.outline', 'story.section', 'story.section', 'story.section']);
    assert.ok(rows.every((r) => r.user_id === aliceProfile && r.ebook_id === null && r.provider === 'openai'));
    assert.ok(rows.every((r) => Number(r.output_tokens) > 0));

    assert.equal((await story(storyId, bob)).status, 404, "another user's story does not exist for them");
  });

  it('streams a run to its owner: storyline, each section moderated and whole, the end; Last-Event-ID resumes', async () => {
    const created = await api(url, 'POST', '/v1/stories/generate', {
      token: alice,
      body: { prompt: 'A night ferry whose passengers all dream the same dream', chapterCount: 2 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id;
    const eventsUrl = `${url}/v1/stories/${id}/events`;
    const ended = (evs: Array<{ event: string }>) => evs.some((e) => ['completed', 'failed', 'cancelled'].includes(e.event));
    const events = await collectSse(eventsUrl, { authorization: `Bearer ${alice}` }, ended);
    const types = events.map((e) => e.event);
    assert.deepEqual(types.slice(0, 2), ['stage', 'outline'], types.join(', '));
    assert.equal(types.at(-1), 'completed', types.join(', '));
    assert.ok(events.every((e) => e.data.revision === 1), 'every event names its run');
    assert.deepEqual(events[1].data.sections.map((s: { index: number }) => s.index), [1, 2]);
    assert.deepEqual(
      events.filter((e) => e.event === 'section.written').map((e) => e.data.index).sort(),
      [1, 2],
    );
    // Sections finish concurrently: each counts the ones stored by then, so the last says all.
    const counts = events.filter((e) => e.event === 'section.written').map((e) => e.data.sections);
    assert.ok(counts.every((c) => c.total === 2 && c.done >= 1 && c.done <= 2), JSON.stringify(counts));
    assert.equal(counts.at(-1).done, 2);

    // What a reader saw of each section is the section as stored, whole.
    for (const index of [1, 2]) {
      const streamed = events.filter((e) => e.event === 'section.text' && e.data.index === index).map((e) => e.data.delta).join('');
      const stored = JSON.parse((await stack.services.storage.get(storyKeys.section(id, 1, index))).toString('utf8'));
      assert.ok(streamed.length > 0, `section ${index} streamed`);
      assert.equal(squash(streamed), squash(stored.paragraphs.join(' ')), `section ${index} streamed whole`);
    }
    const done = (await story(id)).body;
    assert.equal(done.status, 'completed');
    assert.equal(events.at(-1)!.data.title, done.title);

    // A reader that reconnects after the storyline gets the rest, nothing twice.
    const rest = await collectSse(eventsUrl, { authorization: `Bearer ${alice}`, 'last-event-id': String(events[1].id) }, ended);
    assert.deepEqual(rest.map((e) => e.id), events.slice(2).map((e) => e.id));

    const other = await fetch(eventsUrl, { headers: { authorization: `Bearer ${bob}` } });
    assert.equal(other.status, 404, "another user's story has no events for them");
    assert.match(other.headers.get('content-type') ?? '', /problem\+json/);
  });

  it('a section whose stream is cut is written again: readers are told to drop what the first attempt streamed', async () => {
    server.queue('chapter', { kind: 'chapter', words: 300, dropAfter: 40, chunkDelayMs: 5 });
    const created = await api(url, 'POST', '/v1/stories/generate', {
      token: alice,
      body: { prompt: 'A lamplighter on a street that is never dark', chapterCount: 1 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id;
    const events = await collectSse(`${url}/v1/stories/${id}/events`, { authorization: `Bearer ${alice}` }, (evs) =>
      evs.some((e) => ['completed', 'failed'].includes(e.event)),
    );
    assert.equal(events.at(-1)?.event, 'completed', events.map((e) => e.event).join(', '));
    const of = events.filter((e) => e.event === 'section.text' || e.event === 'section.restart');
    const at = of.findIndex((e) => e.event === 'section.restart');
    assert.ok(at > 0, 'the cut attempt streamed text, then the restart came');
    assert.deepEqual([of[at].data.index, of[at].data.attempt, of[at].data.revision], [1, 2, 1]);
    const stored = JSON.parse((await stack.services.storage.get(storyKeys.section(id, 1, 1))).toString('utf8'));
    const after = of.slice(at + 1).map((e) => e.data.delta).join('');
    assert.equal(squash(after), squash(stored.paragraphs.join(' ')), 'what a reader shows after the restart is the stored section');
  });

  it('a section turning to flagged text: the run fails ContentRefused and the flagged words never reach a reader', async () => {
    const clean = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    server.queue('chapter', {
      kind: 'chapter',
      words: 0,
      text: `${clean}.\n\nThen the ferry reached the forbidden shore.\n\n${clean}.`,
      chunkDelayMs: 2,
    });
    const created = await api(url, 'POST', '/v1/stories/generate', {
      token: alice,
      body: { prompt: 'A night ferry crosses a quiet bay', chapterCount: 1 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id;
    const events = await collectSse(`${url}/v1/stories/${id}/events`, { authorization: `Bearer ${alice}` }, (evs) =>
      evs.some((e) => ['completed', 'failed'].includes(e.event)),
    );
    const failed = events.find((e) => e.event === 'failed');
    assert.equal(failed?.data.error.type, 'ContentRefused', events.map((e) => e.event).join(', '));
    const streamed = events.filter((e) => e.event === 'section.text').map((e) => e.data.delta).join('');
    assert.ok(streamed.includes('word0'), 'the clean opening was streamed');
    assert.ok(!streamed.includes('forbidden'), 'the flagged sentence was not');
    assert.equal((await story(id)).body.status, 'failed');
  });

  it('refuses bad input by field and starts nothing', async () => {
    const before = await countStories();
    const cases: Array<[unknown, string]> = [
      [{ chapterCount: 2 }, 'body.prompt'],
      [{ prompt: 'x', chapterCount: 0 }, 'body.chapterCount'],
      [{ prompt: 'x', chapterCount: 25 }, 'body.chapterCount'],
      [{ prompt: 'x', era: 'disco' }, 'body.era'],
      [{ prompt: 'x', colour: 'blue' }, 'body.colour'],
    ];
    for (const [body, field] of cases) {
      const res = await api(url, 'POST', '/v1/stories/generate', { token: alice, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
      assert.equal(res.body.errors[0].field, field);
    }
    assert.equal(await countStories(), before);
  });

  it('replays an Idempotency-Key instead of starting a second story', async () => {
    const before = await countStories();
    const body = { prompt: 'Two lighthouses write letters to each other', chapterCount: 1 };
    const headers = { 'idempotency-key': 'story-once-1' };
    const first = await api(url, 'POST', '/v1/stories/generate', { token: alice, body, headers });
    const second = await api(url, 'POST', '/v1/stories/generate', { token: alice, body, headers });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.body.id, first.body.id);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(await countStories(), before + 1);
    assert.equal((await settled(first.body.id)).status, 'completed');
  });

  it('fails a refused prompt with ContentRefused and writes nothing', async () => {
    const created = await api(url, 'POST', '/v1/stories/generate', { token: alice, body: { prompt: 'A forbidden tale', chapterCount: 2 } });
    assert.equal(created.status, 202);
    const done = await settled(created.body.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.generation.error.type, 'ContentRefused');
    assert.equal(done.content, '');
    assert.equal((await stack.services.knex('cost_ledger').where({ story_id: created.body.id })).length, 0, 'nothing was spent');
  });

  it('rewrites a story as its next revision: one run at a time, the old text kept until the new one is stored', async () => {
    const before = (await story(storyId)).body;
    assert.equal((await api(url, 'POST', `/v1/stories/${storyId}/regenerate`, { token: bob, body: {} })).status, 404);
    const bad = await api(url, 'POST', `/v1/stories/${storyId}/regenerate`, { token: alice, body: { feedback: '' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.feedback');

    // The storyline's first attempt hangs until the provider timeout, so the run is still going when the second request arrives.
    server.queue('chat', { kind: 'hang' });
    const started = await api(url, 'POST', `/v1/stories/${storyId}/regenerate`, { token: alice, body: { feedback: 'More rain.' } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.revision, 2);
    assert.equal(started.body.workflowId, `story-${storyId}-r2`);
    const twice = await api(url, 'POST', `/v1/stories/${storyId}/regenerate`, { token: alice, body: {} });
    assert.equal(twice.status, 409);
    assert.match(twice.headers.get('content-type') ?? '', /problem\+json/);
    const during = (await story(storyId)).body;
    assert.equal(during.status, 'generating');
    assert.equal(during.content, before.content, 'the previous text stays while the new one is written');

    const after = await settled(storyId, 2);
    assert.equal(after.status, 'completed', JSON.stringify(after.generation));
    assert.equal(after.generation.feedback, 'More rain.');
    const chats = server.callsTo('chat').filter((c) => JSON.stringify(c.body).includes('More rain.'));
    assert.ok(chats.length >= 2, 'the feedback reached the storyline and the sections');

    // A new reader of the events starts at the latest run; Last-Event-ID 0 asks for every run.
    const eventsUrl = `${url}/v1/stories/${storyId}/events`;
    const ended = (evs: Array<{ event: string; data: { revision: number } }>) =>
      evs.some((e) => e.event === 'completed' && e.data.revision === 2);
    const latest = await collectSse(eventsUrl, { authorization: `Bearer ${alice}` }, ended);
    assert.deepEqual([...new Set(latest.map((e) => e.data.revision))], [2]);
    assert.equal(latest[0].event, 'stage');
    const all = await collectSse(eventsUrl, { authorization: `Bearer ${alice}`, 'last-event-id': '0' }, ended);
    assert.deepEqual([...new Set(all.map((e) => e.data.revision))], [1, 2]);
    assert.deepEqual(all.slice(-latest.length).map((e) => e.id), latest.map((e) => e.id));

    const handWritten = await api(url, 'POST', '/v1/stories', { token: alice, body: { title: 'Notes', content: 'One.\n\nTwo.' } });
    const refused = await api(url, 'POST', `/v1/stories/${handWritten.body.id}/regenerate`, { token: alice, body: {} });
    assert.equal(refused.status, 409);
  });

  it('makes a book from a story: its text becomes the chapters, with no text provider call', async () => {
    const source = (await story(storyId)).body;
    const chatsBefore = server.callsTo('chat').length;
    const created = await api(url, 'POST', '/v1/ebooks', { token: alice, body: { storyId, chapterCount: 3 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id;
    const book = await waitFor('the book from the story', async () => {
      const b = (await api(url, 'GET', `/v1/ebooks/${id}`, { token: alice })).body;
      if (b.status === 'failed') assert.fail(JSON.stringify(b.error));
      return b.status === 'completed' ? b : undefined;
    });
    assert.deepEqual(
      book.chapters.flatMap((c: { paragraphs: string[] }) => c.paragraphs),
      storyParagraphs(source.content),
      "the chapters are the story's text, in order",
    );
    assert.deepEqual(
      book.chapters.map((c: { title: string }) => c.title),
      source.metadata.outline.chapters.map((c: { title: string }) => c.title),
      "titles from the story's storyline",
    );
    assert.equal(book.title, source.title);
    assert.equal(server.callsTo('chat').length, chatsBefore, 'no text was generated');
    const row = await stack.services.knex('memory_books').where({ id }).first();
    assert.equal(row.original_story_id, storyId);
    const steps = (await stack.services.knex('cost_ledger').where({ ebook_id: id })).map((r) => r.step);
    assert.ok(!steps.includes('outline') && !steps.includes('chapter'), `no text spend: ${steps}`);
    assert.equal(steps.filter((s) => s === 'illustration').length, 3);
    assert.equal(steps.filter((s) => s === 'cover').length, 1);

    const pdf = await fetch(url + book.pdfUrl, { headers: { authorization: `Bearer ${alice}` } });
    assert.equal(pdf.status, 200);
    const file = path.join(stack.dataDir, 'from-story.pdf');
    await fs.writeFile(file, Buffer.from(await pdf.arrayBuffer()));
    await exec('qpdf', ['--check', file]);
    const analytics = (await api(url, 'GET', `/v1/stories/${storyId}/analytics`, { token: alice })).body;
    assert.deepEqual(analytics.ebooks.map((b: { id: string }) => b.id), [id]);
  });

  it('makes a book from a hand-written story: chapters of about equal length, titled from their first words', async () => {
    const content = [
      'Morning came to the orchard slowly, one branch at a time.',
      'The gardener counted the pears twice and wrote both numbers down.',
      'By noon the wind had changed its mind about the weather.',
      'Evening folded the orchard into a single long shadow.',
    ].join('\n\n');
    const written = await api(url, 'POST', '/v1/stories', { token: alice, body: { title: 'The Orchard', content } });
    await api(url, 'PUT', `/v1/stories/${written.body.id}`, { token: alice, body: { status: 'completed' } });
    const chatsBefore = server.callsTo('chat').length;
    const created = await api(url, 'POST', '/v1/ebooks', { token: alice, body: { storyId: written.body.id, chapterCount: 2 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const book = await waitFor('the book from the hand-written story', async () => {
      const b = (await api(url, 'GET', `/v1/ebooks/${created.body.id}`, { token: alice })).body;
      if (b.status === 'failed') assert.fail(JSON.stringify(b.error));
      return b.status === 'completed' ? b : undefined;
    });
    assert.deepEqual(book.chapters.map((c: { paragraphs: string[] }) => c.paragraphs), [
      storyParagraphs(content).slice(0, 2),
      storyParagraphs(content).slice(2),
    ]);
    assert.deepEqual(book.chapters.map((c: { title: string }) => c.title), ['Morning came to the orchard slowly…', 'By noon the wind had changed…']);
    assert.equal(server.callsTo('chat').length, chatsBefore, 'no text was generated');
  });

  it('refuses a book from a story that is missing, not yours, unfinished, too short, or given with a prompt', async () => {
    const draft = await api(url, 'POST', '/v1/stories', { token: alice, body: { title: 'Draft', content: 'Only.\n\nTwo paragraphs.' } });
    const done = await api(url, 'POST', '/v1/stories', { token: alice, body: { title: 'Done', content: 'One.\n\nTwo.' } });
    await api(url, 'PUT', `/v1/stories/${done.body.id}`, { token: alice, body: { status: 'completed' } });
    const booksBefore = Number((await stack.services.knex('memory_books').count({ n: '*' }))[0].n);

    const both = await api(url, 'POST', '/v1/ebooks', { token: alice, body: { prompt: 'x', storyId } });
    assert.equal(both.status, 400);
    assert.equal(both.body.errors[0].field, 'body.storyId');
    const neither = await api(url, 'POST', '/v1/ebooks', { token: alice, body: { chapterCount: 2 } });
    assert.equal(neither.status, 400);
    assert.equal(neither.body.errors[0].field, 'body.prompt');
    const notUuid = await api(url, 'POST', '/v1/ebooks', { token: alice, body: { storyId: 'nope' } });
    assert.equal(notUuid.body.errors[0].field, 'body.storyId');
    assert.equal((await api(url, 'POST', '/v1/ebooks', { token: bob, body: { storyId } })).status, 404, "another user's story");
    assert.equal((await api(url, 'POST', '/v1/ebooks', { token: alice, body: { storyId: draft.body.id } })).status, 409, 'a draft');
    const tooLong = await api(url, 'POST', '/v1/ebooks', { token: alice, body: { storyId: done.body.id, chapterCount: 3 } });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.errors[0].field, 'body.chapterCount');
    assert.equal(Number((await stack.services.knex('memory_books').count({ n: '*' }))[0].n), booksBefore, 'nothing started');
  });

  it('splits text without a storyline at paragraph boundaries into chapters of about equal length', () => {
    const text = Array.from({ length: 7 }, (_, i) => `Paragraph ${i + 1} ${'word '.repeat(10 + i)}`.trim()).join('\n\n');
    const parts = splitStory(text, 3);
    assert.equal(parts.length, 3);
    assert.deepEqual(parts.flatMap((p) => p.paragraphs), storyParagraphs(text));
    assert.ok(parts.every((p) => p.paragraphs.length >= 1 && p.title.startsWith('Paragraph')));
    assert.deepEqual(splitStory('a\n\nb', 2).map((p) => p.paragraphs), [['a'], ['b']]);
    assert.throws(() => splitStory('a\n\nb', 3), RangeError);
  });

  it('improves a prompt while the caller waits, booked to the user; refused and bad prompts are problems', async () => {
    const body = { prompt: 'a fox who collects keys', mood: 'cosy' };
    const headers = { 'idempotency-key': 'enhance-1' };
    const res = await api(url, 'POST', '/v1/ai/enhance/prompt', { token: alice, body, headers });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.provider, 'openai');
    assert.ok(res.body.prompt.length > body.prompt.length, res.body.prompt);
    assert.match(res.body.prompt, /Mood: cosy\./);
    const again = await api(url, 'POST', '/v1/ai/enhance/prompt', { token: alice, body, headers });
    assert.deepEqual(again.body, res.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const rows = await stack.services.knex('cost_ledger').where({ step: 'ai.prompt' });
    assert.equal(rows.length, 1, 'the replay spent nothing');
    assert.equal(rows[0].user_id, aliceProfile);

    const missing = await api(url, 'POST', '/v1/ai/enhance/prompt', { token: alice, body: { mood: 'x' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.errors[0].field, 'body.prompt');
    const refused = await api(url, 'POST', '/v1/ai/enhance/prompt', { token: alice, body: { prompt: 'something forbidden' } });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.errors[0].field, 'body.prompt');
  });

  it('draws a picture and a cover for their owner only, with the cost in the ledger and the analytics', async () => {
    const before = (await api(url, 'GET', '/v1/users/me/analytics', { token: alice })).body;
    const image = await api(url, 'POST', '/v1/ai/generate/image', { token: alice, body: { prompt: 'a brass key on moss', style: 'ink and wash' } });
    assert.equal(image.status, 200, JSON.stringify(image.body));
    assert.equal(image.body.kind, 'image');
    assert.equal(image.body.url, `/v1/ai/images/${image.body.id}`);
    const cover = await api(url, 'POST', '/v1/ai/generate/cover', { token: alice, body: { prompt: 'a fox in a library', title: 'The Key Fox' } });
    assert.equal(cover.status, 200, JSON.stringify(cover.body));
    assert.equal(cover.body.kind, 'cover');

    const file = await fetch(url + image.body.url, { headers: { authorization: `Bearer ${alice}` } });
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), image.body.contentType);
    const bytes = Buffer.from(await file.arrayBuffer());
    assert.equal(bytes.length, image.body.bytes);
    assert.equal((await fetch(url + image.body.url, { headers: { authorization: `Bearer ${bob}` } })).status, 404);
    assert.equal((await api(url, 'GET', '/v1/ai/images/0f0e0d0c-0b0a-4908-8706-050403020100', { token: alice })).status, 404);

    const rows = await stack.services.knex('cost_ledger').whereIn('step', ['ai.image', 'ai.cover']);
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.user_id === aliceProfile && Number(r.images) === 1));
    const after = (await api(url, 'GET', '/v1/users/me/analytics', { token: alice })).body;
    assert.equal(after.images, before.images + 2);
    const spent = rows.reduce((n, r) => n + Number(r.cost_usd), 0);
    assert.ok(spent > 0);
    assert.ok(Math.abs(after.spendUsd - before.spendUsd - spent) < 1e-6, `${after.spendUsd} - ${before.spendUsd} = ${spent}`);

    const bad = await api(url, 'POST', '/v1/ai/generate/cover', { token: alice, body: { prompt: 'x', title: '' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.title');
  });

  it('answers 503 when no image provider will serve, and 504 when the engine does not answer in time', async () => {
    server.setAlways('images', { kind: 'status', status: 401, body: { error: { message: 'bad key', type: 'invalid_request_error' } } });
    try {
      const res = await api(url, 'POST', '/v1/ai/generate/image', { token: alice, body: { prompt: 'a lantern' } });
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
    } finally {
      server.setAlways('images', undefined);
    }

    // An API whose task queue no worker polls: the answer never comes.
    const app = createApp({
      services: stack.services,
      temporal: stack.client,
      auth: clerkSettings(stack.config),
      log: createLogger('api-test', 'silent'),
      taskQueue: `${stack.taskQueue}-nobody`,
      chapterConcurrency: 1,
      aiWaitMs: 1500,
    });
    const lonely = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const base = `http://127.0.0.1:${(lonely.address() as AddressInfo).port}`;
      const res = await api(base, 'POST', '/v1/ai/enhance/prompt', { token: alice, body: { prompt: 'a quiet harbour' } });
      assert.equal(res.status, 504);
      assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
    } finally {
      lonely.closeAllConnections();
      await new Promise((r) => lonely.close(r));
    }
  });

  it('a story run can be cancelled by its owner: the story ends failed (Cancelled) and can be generated again', async () => {
    server.setAlways('chapter', { kind: 'hang' }); // sections never answer: the run stays in progress
    try {
      const created = await api(url, 'POST', '/v1/stories/generate', { token: alice, body: { prompt: 'A bell that rings once a century', chapterCount: 2 } });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const { id, workflowId } = created.body;
      await waitFor('the story to be writing', async () => (await story(id)).body.generation?.stage === 'writing', 30_000);

      assert.equal((await api(url, 'POST', `/v1/stories/${id}/cancel`, { token: bob })).status, 404, 'not bob\'s story');
      const cancelled = await api(url, 'POST', `/v1/stories/${id}/cancel`, { token: alice });
      assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
      assert.deepEqual(cancelled.body, { id, workflowId, revision: 1, status: 'cancelling' });

      const ended = await waitFor('the run to end', async () => {
        const s = (await story(id)).body;
        return s.status !== 'generating' ? s : undefined;
      }, 30_000);
      assert.equal(ended.status, 'failed');
      assert.equal(ended.generation.error.type, 'Cancelled');
      assert.equal((await stack.client.workflow.getHandle(workflowId).describe()).status.name, 'CANCELLED');
      const events = await collectSse(`${url}/v1/stories/${id}/events`, { authorization: `Bearer ${alice}` }, (evs) =>
        evs.some((e) => e.event === 'cancelled'),
      10_000);
      assert.deepEqual(events.at(-1)?.data, { revision: 1, error: { type: 'Cancelled', message: 'Cancelled by request' } });
      const again = await api(url, 'POST', `/v1/stories/${id}/cancel`, { token: alice });
      assert.equal(again.status, 409);
      assert.match(again.headers.get('content-type') ?? '', /problem\+json/);

      server.setAlways('chapter', undefined);
      const rewrite = await api(url, 'POST', `/v1/stories/${id}/regenerate`, { token: alice, body: {} });
      assert.equal(rewrite.status, 202, JSON.stringify(rewrite.body));
      assert.equal((await settled(id, 2)).status, 'completed');
    } finally {
      server.setAlways('chapter', undefined);
    }
  });
});
