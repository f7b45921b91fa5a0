/**
 * Records one real history of each secondary workflow into test/fixtures/, for
 * test/workflow/replay.test.ts to replay against later workflow code.
 *
 *   TEST_DATABASE_URL=postgres://... npx tsx scripts/record-histories.ts
 *
 * Runs everything through the real stack the API tests use: a Temporal dev
 * server, a fresh PostgreSQL database, the engine's worker and API, and the
 * local OpenAI-compatible provider server. It makes a two-chapter book, rewrites
 * one chapter, runs the `chapters` and `pdf` revisions, writes a two-section
 * story, enhances a prompt and draws a picture, then stores each run's history
 * as `temporal workflow show -o json` prints it; last, it deletes the book and
 * erases the user (with a book still running) for the two erasure workflows.
 * `--only-erasure` records just those two, on a one-chapter book. Re-record only on purpose: a
 * fixture that no longer replays means in-flight runs would break too. The
 * ebookWorkflow fixture (ebook-3-chapters.history.json) is left as recorded.
 *
 * Chapters split as a service and an upscaled picture (issue 22) are recorded too.
 *
 * It also records a book that waited for its outline review (an edit, a
 * revision, then the approval) and a story run that waited for its storyline's.
 * Fixture file names given as arguments record only those, leaving the others as
 * they are:
 *
 *   npx tsx scripts/record-histories.ts story-outline-review.history.json
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { createTestStack, startApi, startWorker } from '../test/helpers/stack';
import { api, waitFor } from '../test/helpers/http';
import { providerEnv, startOpenAICompatServer } from '../test/helpers/provider-servers';
import { mochaGlobalTeardown } from '../test/helpers/global';
import { signSessionToken } from '../lib/tokens';
import { BATCH_REGENERATE_WORKFLOW_TYPE, type BatchRegenerateInput } from '../workflows/batch-shared';
import { eraseEbookWorkflowId } from '../workflows/shared';

const FIXTURES = path.resolve(__dirname, '..', 'test', 'fixtures');
/** The fixtures to write (all when none are named). */
const ONLY = process.argv.slice(2);
const REVIEW_FIXTURE = 'ebook-outline-review.history.json';
const STORY_REVIEW_FIXTURE = 'story-outline-review.history.json';

async function save(client: Client, workflowId: string, file: string): Promise<void> {
  if (ONLY.length && !ONLY.includes(file)) return;
  const handle = client.workflow.getHandle(workflowId);
  const result = await handle.result();
  const history = await handle.fetchHistory();
  // Same shape and indentation as the CLI's output, so fixtures diff cleanly.
  const json = JSON.stringify(JSON.parse(historyToJSON(history)), null, 2) + '\n';
  await fs.writeFile(path.join(FIXTURES, file), json);
  console.log(`${file}: ${history.events?.length} events from ${workflowId} → ${JSON.stringify(result)}`);
}

async function main(): Promise<void> {
  const server = await startOpenAICompatServer();
  // Production's queue names in the recorded events, not per-run test queues
  // (this script starts its own Temporal server unless TEMPORAL_TEST_ADDRESS is set).
  const stack = await createTestStack({ ...providerEnv({ openai: server }), TEMPORAL_TASK_QUEUE: 'ebooks' });
  stack.taskQueue = stack.config.temporal.taskQueue;
  const { url, stop: stopApi } = await startApi(stack);
  const { stop: stopWorker } = await startWorker(stack);
  try {
    const token = await signSessionToken(stack.devKeys, { userId: 'alice' });
    await stack.services.repos.profiles.ensure({ clerkUserId: 'alice' });
    await stack.services.repos.profiles.setSubscription('alice', 'midnights');
    const call = async (method: string, route: string, body?: unknown) => {
      const res = await api(url, method, route, { token, body });
      if (res.status >= 300) throw new Error(`${method} ${route} → ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    /** Deletes a finished book, then erases the user while another of their books runs. */
    const recordErasures = async (bookId: string) => {
      const deleted = await api(url, 'DELETE', `/v1/ebooks/${bookId}`, { token });
      if (deleted.status !== 204) throw new Error(`DELETE book → ${deleted.status} ${JSON.stringify(deleted.body)}`);
      await save(stack.client, eraseEbookWorkflowId(bookId), 'erase-ebook.history.json');
      await call('POST', '/v1/ebooks', { prompt: 'A lighthouse that keeps a diary', chapterCount: 3 });
      const admin = await signSessionToken(stack.devKeys, { userId: 'root', role: 'admin' });
      const erased = await api(url, 'DELETE', '/v1/users/alice', { token: admin });
      if (erased.status !== 202) throw new Error(`DELETE user → ${erased.status} ${JSON.stringify(erased.body)}`);
      await save(stack.client, erased.body.workflowId, 'erase-user.history.json');
    };
    const version = (id: string, v: number) =>
      waitFor(`book ${id} at version ${v}`, async () => {
        const book = await call('GET', `/v1/ebooks/${id}`);
        if (book.status === 'failed') throw new Error(`book failed: ${JSON.stringify(book)}`);
        return book.status === 'completed' && book.fileVersion === v;
      }, 300_000);

    if (process.argv.includes('--only-erasure')) {
      const small = await call('POST', '/v1/ebooks', { prompt: 'A tide clock that runs backwards', chapterCount: 1 });
      await version(small.id, 1);
      await recordErasures(small.id);
      return;
    }

    // A book that waits for its outline review: edited to three chapters, revised, approved.
    const reviewed = await call('POST', '/v1/ebooks', { prompt: 'A kite that carries letters', chapterCount: 2, review: 'outline' });
    await waitFor('the outline review', async () => (await call('GET', `/v1/ebooks/${reviewed.id}/status`)).status === 'awaiting_review');
    const outline = await call('GET', `/v1/ebooks/${reviewed.id}/outline`);
    await call('PUT', `/v1/ebooks/${reviewed.id}/outline`, {
      title: 'Letters on the Wind',
      chapters: [...outline.chapters, { title: 'The Last Letter', summary: 'The kite comes home with an answer.' }],
    });
    await call('POST', `/v1/ebooks/${reviewed.id}/outline/revise`, { feedback: 'Give the kite a name.' });
    await call('POST', `/v1/ebooks/${reviewed.id}/outline/approve`);
    await version(reviewed.id, 1);
    await save(stack.client, reviewed.workflowId, REVIEW_FIXTURE);

    // A story run that waits for its storyline review: edited to three sections, approved.
    const reviewedStory = await call('POST', '/v1/stories/generate', { prompt: 'A kite that carries letters', chapterCount: 2, review: 'outline' });
    await waitFor('the storyline review', async () => (await call('GET', `/v1/stories/${reviewedStory.id}`)).generation?.stage === 'outline_review');
    const storyline = await call('GET', `/v1/stories/${reviewedStory.id}/outline`);
    await call('PUT', `/v1/stories/${reviewedStory.id}/outline`, {
      chapters: [
        ...storyline.chapters.map((c: { title: string; summary: string }) => ({ title: c.title, summary: c.summary })),
        { title: 'The Last Letter', summary: 'The kite comes home with an answer.' },
      ],
    });
    await call('POST', `/v1/stories/${reviewedStory.id}/outline/approve`);
    await save(stack.client, reviewedStory.workflowId, STORY_REVIEW_FIXTURE);
    if (ONLY.length && ONLY.every((f) => [REVIEW_FIXTURE, STORY_REVIEW_FIXTURE].includes(f))) return;

    const book = await call('POST', '/v1/ebooks', { prompt: 'A tide clock that runs backwards', chapterCount: 2 });
    await version(book.id, 1);
    // The book itself, as today's code runs it (ebook-3-chapters is an older run, kept as recorded).
    await save(stack.client, book.workflowId, 'ebook-2-chapters.history.json');

    const rewrite = await call('POST', `/v1/ebooks/${book.id}/chapters/2/regenerate`, { feedback: 'More salt wind.' });
    await save(stack.client, rewrite.workflowId, 'regenerate-chapter.history.json');
    await version(book.id, 2);

    const chapters = await call('POST', `/v1/ebooks/${book.id}/chapters`, { feedback: 'Shorter sentences.' });
    await save(stack.client, chapters.workflowId, 'revise-ebook-chapters.history.json');
    await version(book.id, 3);

    const pdf = await call('POST', `/v1/ebooks/${book.id}/pdf`, {});
    await save(stack.client, pdf.workflowId, 'revise-ebook-pdf.history.json');
    await version(book.id, 4);

    // A batch re-generation run (what a Temporal Schedule starts), selecting this user's books.
    const batchId = 'regen-batch-record';
    await stack.client.workflow.execute(BATCH_REGENERATE_WORKFLOW_TYPE, {
      workflowId: batchId,
      taskQueue: stack.taskQueue,
      args: [
        {
          selection: { statuses: ['completed'], user: 'alice' },
          labelPrefix: 'record',
          run: 'record',
          concurrency: 2,
          chapterConcurrency: 2,
        } satisfies BatchRegenerateInput,
      ],
    });
    await save(stack.client, batchId, 'batch-regenerate.history.json');

    const story = await call('POST', '/v1/stories/generate', { prompt: 'Two lighthouses trade letters', chapterCount: 2 });
    await save(stack.client, story.workflowId, 'story-2-sections.history.json');

    // The AI routes answer with the result, not the run: find the runs by type.
    await call('POST', '/v1/ai/enhance/prompt', { prompt: 'a quiet harbour at dawn' });
    await call('POST', '/v1/ai/generate/image', { prompt: 'a brass key on moss', style: 'ink and wash' });
    // Chapters as a service and an upscaled picture (issue 22).
    const split = await call('POST', '/v1/ai/generate/chapters', {
      text: 'The keeper lit the lamp at dusk.\n\nThe gull came back at dawn, ticking.\n\nThey watched the ships together.',
      chapterCount: 2,
    });
    await save(stack.client, split.workflowId, 'split-chapters.history.json');
    const picture = await call('POST', '/v1/ai/generate/image', { prompt: 'a lamp room at night' });
    await call('POST', '/v1/ai/enhance/image', { imageId: picture.id, scale: 2 });
    for (const [type, file] of [
      ['enhancePromptWorkflow', 'enhance-prompt.history.json'],
      ['drawPictureWorkflow', 'draw-picture.history.json'],
      ['enhanceImageWorkflow', 'enhance-image.history.json'],
    ]) {
      const workflowId = await waitFor(`a ${type} run in visibility`, async () => {
        for await (const run of stack.client.workflow.list({ query: `WorkflowType = '${type}'` })) return run.workflowId;
        return undefined;
      });
      await save(stack.client, workflowId, file);
    }
    await recordErasures(book.id);
  } finally {
    await stopApi();
    await stopWorker();
    await stack.close();
    await server.close();
    await mochaGlobalTeardown();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
