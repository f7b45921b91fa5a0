/**
 * AI as a service, outside a book (issue 22):
 * - `POST /ai/generate/chapters`: a text (or one of the caller's stories) split at
 *   paragraph boundaries into titled chapters, optionally rewritten, by a durable
 *   workflow: 202 at once, the result at `GET /ai/chapters/{id}` (Location).
 * - `POST /ai/generate/story`: an alias of `POST /stories/generate` (same body,
 *   same 202 and Location): a generated story is a stored story here, so a client
 *   that does not want to keep it deletes it.
 * - `POST /ai/enhance/image`: a stored picture (one of the AI routes', or a book's
 *   chapter illustration) upscaled x2 or x4 through the image provider's upscaler,
 *   or locally with sharp, stored as a new picture; the caller waits for it.
 */
import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import { USER_ID_ATTRIBUTE } from '../../workflows/shared';
import { pictureKey } from '../../workflows/story-ai-shared';
import {
  chaptersInputKey,
  chaptersJobKey,
  ENHANCE_IMAGE_WORKFLOW_TYPE,
  enhanceImageWorkflowId,
  SPLIT_CHAPTERS_WORKFLOW_TYPE,
  splitChaptersWorkflowId,
  type ChaptersJob,
  type SplitChaptersInput,
} from '../../workflows/ai-services-shared';
import type { enhanceImageWorkflow, splitChaptersWorkflow } from '../../workflows/ai-services';
import { briefSchema, chapterCountSchema } from '../../core/brief';
import { HttpProblem, notFound } from '../problem';
import type { ChaptersJobAnswer, ChaptersStarted, UpscaledPicture } from '../schemas/ai';
import { idempotency } from '../idempotency';
import { fieldProblem, parseStrict } from './helpers/request';
import { awaitWorkflow } from './helpers/ai-wait';
import { storyGenerationRouter, type StoryGenerationDeps } from './story-generation';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Texts up to about 60,000 characters: the API's JSON body limit is 64 kB. */
export const generateChaptersSchema = z
  .strictObject({
    storyId: z.uuid({ message: 'must be a story id' }).optional(),
    text: z.string().trim().min(1, 'must not be empty').max(60_000, 'must be at most 60000 characters').optional(),
    chapterCount: chapterCountSchema,
    rewrite: z.boolean('must be true or false').optional(),
    style: briefSchema.shape.style,
    mood: briefSchema.shape.mood,
    language: briefSchema.shape.language,
  })
  .refine((b) => (b.storyId === undefined) !== (b.text === undefined), { message: 'give either storyId or text, not both' })
  // The document says the same, so a generated client never sends both or neither.
  .meta({ oneOf: [{ required: ['storyId'] }, { required: ['text'] }] });

export const enhanceImageSchema = z
  .strictObject({
    imageId: z.uuid({ message: 'must be a picture id' }).optional(),
    ebookId: z.uuid({ message: 'must be a book id' }).optional(),
    chapter: z.number().int('must be an integer').min(1, 'must be a chapter number').max(100, 'must be a chapter number').optional(),
    scale: z.union([z.literal(2), z.literal(4)], { message: 'must be 2 or 4' }),
    denoise: z.boolean('must be true or false').optional(),
  })
  .refine((b) => (b.imageId !== undefined) !== (b.ebookId !== undefined && b.chapter !== undefined) && (b.ebookId === undefined) === (b.chapter === undefined), {
    message: 'give either imageId, or ebookId with chapter',
  })
  .meta({
    oneOf: [{ required: ['imageId'] }, { required: ['ebookId', 'chapter'] }],
    dependentRequired: { ebookId: ['chapter'], chapter: ['ebookId'] },
  });

export interface AiServiceDeps extends StoryGenerationDeps {
  services: Services;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  /** How long an upscale request waits for its workflow's answer (default 60 s). */
  aiWaitMs?: number;
}

export function aiServiceRouter(deps: AiServiceDeps): Router {
  const { services, temporal } = deps;
  const { repos, storage } = services;
  const router = Router();
  const profileOf = (req: Request) => repos.profiles.ensure({ clerkUserId: req.user!.userId, role: req.user!.role });
  const writeJob = (key: string, job: ChaptersJob) => storage.put(key, Buffer.from(JSON.stringify(job)), { contentType: 'application/json' });

  router.post('/ai/generate/chapters', idempotency(services.knex), async (req, res) => {
    const body = parseStrict(generateChaptersSchema, req.body ?? {}, 'body');
    const profile = await profileOf(req);
    if (body.storyId) {
      const story = await repos.stories.get(body.storyId);
      if (!story || story.userId !== profile.id) throw fieldProblem(404, 'Not Found', 'body.storyId', 'names no story of yours');
    }
    const id = randomUUID();
    const workflowId = splitChaptersWorkflowId(id);
    const key = chaptersJobKey(profile.id, id);
    const job: ChaptersJob = { id, status: 'running', chapterCount: body.chapterCount, rewrite: Boolean(body.rewrite), createdAt: new Date().toISOString() };
    if (body.text) await storage.put(chaptersInputKey(profile.id, id), Buffer.from(body.text), { contentType: 'text/plain; charset=utf-8' });
    await writeJob(key, job);
    const input: SplitChaptersInput = {
      jobId: id,
      profileId: profile.id,
      source: body.storyId ? { kind: 'story', storyId: body.storyId } : { kind: 'text' },
      chapterCount: body.chapterCount,
      rewrite: body.rewrite,
      brief: { style: body.style, mood: body.mood, language: body.language },
    };
    try {
      await temporal.workflow.start<typeof splitChaptersWorkflow>(SPLIT_CHAPTERS_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [input],
        typedSearchAttributes: [{ key: USER_ID_ATTRIBUTE, value: req.user!.userId }],
      });
    } catch (err) {
      await writeJob(key, { ...job, status: 'failed', error: { type: 'StartFailed', message: 'The work could not be started' } });
      deps.log.error({ err, requestId: req.id }, 'chapters workflow start failed');
      throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine is unreachable; try again shortly.');
    }
    await repos.activities.record({
      userId: profile.id,
      type: 'ai_chapters_requested',
      data: { jobId: id, chapterCount: body.chapterCount, rewrite: Boolean(body.rewrite), storyId: body.storyId ?? null },
      dedupeKey: `ai_chapters_requested:${id}`,
    });
    res.status(202).location(`/v1/ai/chapters/${id}`).json({ id, workflowId, status: 'running' } satisfies ChaptersStarted);
  });

  router.get('/ai/chapters/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!UUID_RE.test(id)) throw notFound('Chapters');
    const profile = await repos.profiles.getByClerkId(req.user!.userId);
    // Jobs are stored under their owner: another user's id simply is not there.
    const key = profile && chaptersJobKey(profile.id, id);
    if (!key || !(await storage.head(key))) throw notFound('Chapters');
    let job = JSON.parse((await storage.get(key)).toString('utf8')) as ChaptersJob;
    if (job.status === 'running') {
      // A run that ended without recording it (terminated, timed out) is failed, not running for ever.
      const status = await temporal.workflow
        .getHandle(splitChaptersWorkflowId(id))
        .describe()
        .then((d) => d.status.name)
        .catch((err) => (err instanceof WorkflowNotFoundError ? 'NOT_FOUND' : 'RUNNING'));
      if (status !== 'RUNNING' && status !== 'COMPLETED') {
        job = { ...job, status: 'failed', error: { type: status === 'NOT_FOUND' ? 'Lost' : status, message: 'The run ended before it finished' } };
      }
    }
    res.json(job satisfies ChaptersJobAnswer);
  });

  // The same route as POST /stories/generate (its validation, idempotency and answer), under the AI service's name.
  const stories = storyGenerationRouter(deps);
  router.post('/ai/generate/story', (req, res, next) => {
    req.url = '/stories/generate';
    stories(req, res, next);
  });

  router.post('/ai/enhance/image', idempotency(services.knex), async (req, res) => {
    const body = parseStrict(enhanceImageSchema, req.body ?? {}, 'body');
    const profile = await profileOf(req);
    let sourceKey: string | undefined;
    if (body.imageId) {
      for (const ext of ['png', 'jpg'] as const) {
        const key = pictureKey(profile.id, body.imageId, ext);
        if (await storage.head(key)) sourceKey = key;
      }
      if (!sourceKey) throw fieldProblem(404, 'Not Found', 'body.imageId', 'names no picture of yours');
    } else {
      const book = await repos.ebooks.get(body.ebookId!);
      if (!book || book.userId !== profile.id) throw fieldProblem(404, 'Not Found', 'body.ebookId', 'names no book of yours');
      sourceKey = book.chapters[body.chapter! - 1]?.imageKey;
      if (!sourceKey) throw fieldProblem(404, 'Not Found', 'body.chapter', 'has no illustration (yet)');
    }
    const id = randomUUID();
    const url = `/v1/ai/images/${id}`;
    const result = await awaitWorkflow<Awaited<ReturnType<typeof enhanceImageWorkflow>>>(
      { log: deps.log, waitMs: deps.aiWaitMs ?? 60_000, temporal },
      req,
      () =>
        temporal.workflow.start<typeof enhanceImageWorkflow>(ENHANCE_IMAGE_WORKFLOW_TYPE, {
          workflowId: enhanceImageWorkflowId(id),
          taskQueue: deps.taskQueue,
          args: [{ profileId: profile.id, imageId: id, sourceKey: sourceKey!, scale: body.scale, denoise: body.denoise }],
          typedSearchAttributes: [{ key: USER_ID_ATTRIBUTE, value: req.user!.userId }],
        }),
      // A late picture is still stored and appears at its URL.
      async () => undefined,
      { id, url },
    );
    await repos.activities.record({
      userId: profile.id,
      type: 'ai_image_upscaled',
      data: { imageId: id, from: body.imageId ?? { ebookId: body.ebookId, chapter: body.chapter }, scale: body.scale, provider: result.provider },
      dedupeKey: `ai_image_upscaled:${id}`,
    });
    res.location(url).json({
      id,
      url,
      scale: body.scale,
      denoise: Boolean(body.denoise),
      contentType: result.contentType,
      width: result.width,
      height: result.height,
      bytes: result.bytes,
      provider: result.provider,
      model: result.model,
    } satisfies UpscaledPicture);
  });

  return router;
}
