/**
 * Stories written by the engine: POST /stories/generate starts a story's first
 * run, POST /stories/{id}/regenerate the next revision's, POST /stories/{id}/cancel
 * stops the one running. All answer 202 at once; GET /stories/{id} shows the run's
 * stage and progress, and GET /stories/{id}/events streams it (the text as it is
 * written). Stories are free
 * (no allowance), but rate limits apply as everywhere.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import type { Story } from '../../db/stories';
import { announceRunEnd } from '../../db/story-generation';
import { DEFAULT_REVIEW_TIMEOUT_MS, REVIEW_KINDS, USER_ID_ATTRIBUTE } from '../../workflows/shared';
import {
  STORY_WORKFLOW_TYPE,
  storyWorkflowId,
  type StoryGeneration,
  type StoryWorkflowInput,
} from '../../workflows/story-ai-shared';
import type { storyWorkflow } from '../../workflows/story';
import { HttpProblem, notFound } from '../problem';
import { idempotency } from '../idempotency';
import { lastEventId, streamEvents } from '../sse';
import { parseStrict, rewriteSchema } from './helpers/request';
import { briefSchema } from '../../core/brief';
import type { BookBrief } from '../../core/brief';
import type { Started } from '../schemas/ebooks';

/** The brief of a story; `chapterCount` is how many sections it is written in. */
export const generateStorySchema = briefSchema
  .extend({
    /** 'outline': the run waits after its storyline until its owner approves, edits or revises it. */
    review: z.enum(REVIEW_KINDS, { message: 'must be "outline"' }).optional(),
  })
  .strict();
export const regenerateStorySchema = rewriteSchema;

export interface StoryGenerationDeps {
  services: Services;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  /** REVIEW_TIMEOUT: how long a run started with `review` waits for its owner. */
  reviewTimeoutMs?: number;
}

export function storyGenerationRouter(deps: StoryGenerationDeps): Router {
  const { services, temporal } = deps;
  const { repos, knex } = services;
  const { stories, storyRuns: runs } = repos;
  const router = Router();

  const start = async (input: StoryWorkflowInput, workflowId: string, clerkUserId: string) => {
    await temporal.workflow.start<typeof storyWorkflow>(STORY_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [input],
      typedSearchAttributes: [{ key: USER_ID_ATTRIBUTE, value: clerkUserId }],
    });
  };

  router.post('/stories/generate', idempotency(knex), async (req, res) => {
    const { review, ...brief } = parseStrict(generateStorySchema, req.body ?? {}, 'body');
    const user = req.user!;
    const profile = await repos.profiles.ensure({ clerkUserId: user.userId, role: user.role });
    const id = randomUUID();
    const workflowId = storyWorkflowId(id, 1);
    const generation: StoryGeneration = { revision: 1, workflowId, stage: 'queued', progress: 0 };
    await runs.create({ id, userId: profile.id, promptData: brief, generation });
    await repos.activities.record({
      userId: profile.id,
      type: 'story_created',
      data: { storyId: id, generated: true },
      dedupeKey: `story_created:${id}`,
      ipAddress: req.ip,
      userAgent: req.get('user-agent') ?? undefined,
    });
    try {
      // Only set for a review, so every other run's input is as it always was.
      const reviewed = review ? { review, reviewTimeoutMs: deps.reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS } : {};
      await start({ storyId: id, profileId: profile.id, revision: 1, brief, ...reviewed }, workflowId, user.userId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        await runs.fail(id, 1, 'failed', { stage: 'failed', error: { type: 'StartFailed', message: 'The generation could not be started' } });
        deps.log.error({ err, storyId: id, requestId: req.id }, 'story workflow start failed');
        throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine is unreachable; try again shortly.');
      }
    }
    res.status(202).location(`/v1/stories/${id}`).json({ id, workflowId, status: 'generating' } satisfies Started);
  });

  router.post('/stories/:id/regenerate', idempotency(knex), async (req, res) => {
    const body = parseStrict(regenerateStorySchema, req.body ?? {}, 'body');
    const user = req.user!;
    const profile = await repos.profiles.ensure({ clerkUserId: user.userId, role: user.role });
    const story = await stories.get(String(req.params.id));
    if (!story || story.userId !== profile.id) throw notFound('Story');
    const settings = story.generationSettings as BookBrief | null;
    if (!settings?.prompt) {
      throw new HttpProblem(409, 'Conflict', 'The story was written by hand, not generated from a prompt; there is nothing to rewrite from.');
    }
    const current = revisionOf(story);
    const generation = story.status === 'generating'
      ? undefined
      : await runs.beginRewrite(
          story.id,
          (revision) => ({ revision, workflowId: storyWorkflowId(story.id, revision), stage: 'queued', progress: 0, error: null, feedback: body.feedback }),
          { revision: current, status: story.status },
        );
    if (!generation) {
      throw new HttpProblem(409, 'Conflict', 'The story is being generated; wait until this run ends.', { storyStatus: 'generating' });
    }
    const { revision, workflowId } = generation;
    try {
      await start({ storyId: story.id, profileId: profile.id, revision, brief: settings, feedback: body.feedback }, workflowId, user.userId);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new HttpProblem(409, 'Conflict', 'This rewrite is already running.', { workflowId });
      }
      await runs.fail(story.id, revision, story.status, { stage: 'failed', error: { type: 'StartFailed', message: 'The rewrite could not be started' } });
      deps.log.error({ err, storyId: story.id, requestId: req.id }, 'story rewrite start failed');
      throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine is unreachable; try again shortly.');
    }
    res.status(202).location(`/v1/stories/${story.id}`).json({ id: story.id, workflowId, revision, status: 'generating' } satisfies Started);
  });

  router.post('/stories/:id/cancel', idempotency(knex), async (req, res) => {
    const user = req.user!;
    const profile = await repos.profiles.getByClerkId(user.userId);
    const story = await stories.get(String(req.params.id));
    if (!story || !profile || story.userId !== profile.id) throw notFound('Story');
    const generation = story.metadata.generation as Partial<StoryGeneration> | undefined;
    if (story.status !== 'generating' || !generation?.workflowId) {
      throw new HttpProblem(409, 'Conflict', 'No run of this story is in progress.', { storyStatus: story.status });
    }
    try {
      // The run records its own end (a rewrite leaves the story as it was before it).
      await temporal.workflow.getHandle(generation.workflowId).cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // The run is gone (its history expired): record the end directly, as the run would have.
      const error = { type: 'Cancelled', message: 'Cancelled by request' };
      if (await runs.failRun(story.id, revisionOf(story), generation.previousStatus, error)) {
        await announceRunEnd(services.storyEvents, story.id, revisionOf(story), error);
      }
    }
    res
      .status(202)
      .location(`/v1/stories/${story.id}`)
      .json({ id: story.id, workflowId: generation.workflowId, revision: revisionOf(story), status: 'cancelling' } satisfies Started);
  });

  /**
   * A run as it happens, for the story's owner: `stage`, `outline`, each section's
   * moderated text (`section.text`; `section.restart` first when an attempt is
   * retried), `section.written`, then `completed`, `failed` or `cancelled`; each
   * event names its run's `revision`. A new stream starts at the latest run (a reader
   * would otherwise get every earlier rewrite's text first) and goes on through the
   * runs after it; `Last-Event-ID` resumes exactly where a reader was.
   */
  router.get('/stories/:id/events', async (req, res) => {
    const profile = await repos.profiles.getByClerkId(req.user!.userId);
    const story = await stories.get(String(req.params.id));
    if (!story || !profile || story.userId !== profile.id) throw notFound('Story');
    let afterId = lastEventId(req);
    if (afterId === undefined) {
      afterId = await repos.storyRuns.lastEventBefore(story.id, revisionOf(story));
    }
    await streamEvents(req, res, services.storyEvents, story.id, 'story', afterId);
  });

  return router;
}

/** The story's latest run's revision; 0 for a story never generated. */
function revisionOf(story: Story): number {
  const g = story.metadata.generation as { revision?: unknown } | undefined;
  return typeof g?.revision === 'number' ? g.revision : 0;
}
