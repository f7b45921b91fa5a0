/**
 * The AI routes a writing page calls while a person waits: an improved prompt,
 * and a single picture (an illustration or a cover). Each runs as a short
 * workflow through the same providers, failover, moderation and cost ledger as
 * books; the API waits for its answer (up to about a minute) and answers 200.
 * Pictures are stored under their owner and only the owner can fetch them.
 */
import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { ApplicationFailure, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import { ErrorTypes, USER_ID_ATTRIBUTE } from '../../workflows/shared';
import {
  DRAW_PICTURE_WORKFLOW_TYPE,
  drawPictureWorkflowId,
  ENHANCE_PROMPT_WORKFLOW_TYPE,
  enhancePromptWorkflowId,
  pictureKey,
  type PictureKind,
} from '../../workflows/story-ai-shared';
import type { drawPictureWorkflow, enhancePromptWorkflow } from '../../workflows/ai';
import { HttpProblem, notFound } from '../problem';
import { idempotency } from '../idempotency';
import { sendStoredFile } from '../files';
import { parseStrict } from './helpers/request';
import { briefSchema } from '../../core/brief';

export const enhancePromptSchema = briefSchema.omit({ chapterCount: true }).strict();

export const generateImageSchema = z.strictObject({
  prompt: z.string().trim().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters'),
  style: briefSchema.shape.style,
  era: briefSchema.shape.era,
});

export const generateCoverSchema = generateImageSchema.extend({
  title: z.string().trim().min(1, 'must not be empty').max(120, 'must be at most 120 characters').optional(),
  subtitle: z.string().trim().max(200, 'must be at most 200 characters').optional(),
});

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AiGenerateDeps {
  services: Services;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  /** How long a request waits for its workflow's answer (default 60 s). */
  aiWaitMs?: number;
}

export function aiGenerateRouter(deps: AiGenerateDeps): Router {
  const { services, temporal } = deps;
  const { repos, storage } = services;
  const waitMs = deps.aiWaitMs ?? 60_000;
  const router = Router();

  const profileOf = (req: Request) => repos.profiles.ensure({ clerkUserId: req.user!.userId, role: req.user!.role });

  /**
   * Starts the workflow and waits for its result; a run that outlasts the wait is
   * answered 504 (`onTimeout` decides what becomes of it), and a failed one by
   * its cause: refused content 422, no provider 503, anything else 502.
   */
  async function run<T>(req: Request, start: () => Promise<WorkflowHandle>, onTimeout: (h: WorkflowHandle) => Promise<unknown>, extra: Record<string, unknown> = {}): Promise<T> {
    let handle: WorkflowHandle;
    try {
      handle = await start();
    } catch (err) {
      deps.log.error({ err, requestId: req.id }, 'AI workflow start failed');
      throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine is unreachable; try again shortly.');
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = Symbol('timeout');
    // Once this request is answered (or timed out) nobody waits for the run: stop the
    // long poll, or it outlives the request (and, in tests, the client's connection).
    const stopWaiting = new AbortController();
    const waiting = temporal.withAbortSignal(stopWaiting.signal, () => handle.result() as Promise<T>);
    waiting.catch(() => undefined);
    try {
      const result = await Promise.race([
        waiting,
        new Promise<typeof timedOut>((resolve) => {
          timer = setTimeout(() => resolve(timedOut), waitMs);
        }),
      ]);
      if (result === timedOut) {
        await onTimeout(handle).catch(() => undefined);
        throw new HttpProblem(504, 'Gateway Timeout', `The providers did not answer within ${Math.round(waitMs / 1000)} s; try again.`, extra);
      }
      return result;
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      let cause: unknown = err.cause;
      while (cause && !(cause instanceof ApplicationFailure) && (cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
      const failure = cause instanceof ApplicationFailure ? cause : undefined;
      if (failure?.type === ErrorTypes.ContentRefused) {
        throw new HttpProblem(422, 'Content refused', 'body.prompt: was refused by content moderation', {
          errors: [{ field: 'body.prompt', message: 'was refused by content moderation' }],
        });
      }
      if (failure?.type === ErrorTypes.ProviderUnavailable) {
        throw new HttpProblem(503, 'Service Unavailable', 'No provider is available for this request right now.', extra);
      }
      deps.log.warn({ err, requestId: req.id }, 'AI workflow failed');
      throw new HttpProblem(502, 'Bad Gateway', 'The providers failed to answer this request; try again.', extra);
    } finally {
      clearTimeout(timer);
      stopWaiting.abort();
    }
  }

  router.post('/ai/enhance/prompt', idempotency(services.knex), async (req, res) => {
    const brief = parseStrict(enhancePromptSchema, req.body ?? {}, 'body');
    const profile = await profileOf(req);
    const result = await run<Awaited<ReturnType<typeof enhancePromptWorkflow>>>(
      req,
      () =>
        temporal.workflow.start<typeof enhancePromptWorkflow>(ENHANCE_PROMPT_WORKFLOW_TYPE, {
          workflowId: enhancePromptWorkflowId(randomUUID()),
          taskQueue: deps.taskQueue,
          args: [{ profileId: profile.id, brief }],
          typedSearchAttributes: [{ key: USER_ID_ATTRIBUTE, value: req.user!.userId }],
        }),
      // Nobody will read a late answer: stop spending on it.
      (h) => h.cancel(),
    );
    res.json({ prompt: result.prompt, title: result.title, provider: result.provider });
  });

  const picture = (kind: PictureKind, schema: typeof generateImageSchema | typeof generateCoverSchema) =>
    async (req: Request, res: import('express').Response) => {
      const body = parseStrict(schema, req.body ?? {}, 'body') as z.infer<typeof generateCoverSchema>;
      const profile = await profileOf(req);
      const id = randomUUID();
      const url = `/v1/ai/images/${id}`;
      const drawn = await run<Awaited<ReturnType<typeof drawPictureWorkflow>>>(
        req,
        () =>
          temporal.workflow.start<typeof drawPictureWorkflow>(DRAW_PICTURE_WORKFLOW_TYPE, {
            workflowId: drawPictureWorkflowId(id),
            taskQueue: deps.taskQueue,
            args: [{ profileId: profile.id, imageId: id, kind, ...body }],
            typedSearchAttributes: [{ key: USER_ID_ATTRIBUTE, value: req.user!.userId }],
          }),
        // A late picture is still stored and appears at its URL.
        async () => undefined,
        { id, url },
      );
      await repos.activities.record({
        userId: profile.id,
        type: kind === 'cover' ? 'ai_cover_generated' : 'ai_image_generated',
        data: { imageId: id, provider: drawn.provider },
        dedupeKey: `ai_image_generated:${id}`,
      });
      res.location(url).json({
        id,
        kind,
        url,
        contentType: drawn.contentType,
        width: drawn.width,
        height: drawn.height,
        bytes: drawn.bytes,
        provider: drawn.provider,
        model: drawn.model,
      });
    };

  router.post('/ai/generate/image', idempotency(services.knex), picture('image', generateImageSchema));
  router.post('/ai/generate/cover', idempotency(services.knex), picture('cover', generateCoverSchema));

  router.get('/ai/images/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!UUID_RE.test(id)) throw notFound('Image');
    const profile = await repos.profiles.getByClerkId(req.user!.userId);
    if (!profile) throw notFound('Image');
    // Keys are under the owner's profile: another user's picture simply is not there.
    for (const ext of ['png', 'jpg'] as const) {
      const key = pictureKey(profile.id, id, ext);
      const head = await storage.head(key);
      if (head) return sendStoredFile(req, res, { storage, key, head, name: `${id}.${ext}`, inline: true, log: deps.log });
    }
    throw notFound('Image');
  });

  return router;
}
