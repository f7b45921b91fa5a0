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
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import { USER_ID_ATTRIBUTE } from '../../workflows/shared';
import {
  DRAW_PICTURE_WORKFLOW_TYPE,
  drawPictureWorkflowId,
  ENHANCE_PROMPT_WORKFLOW_TYPE,
  enhancePromptWorkflowId,
  pictureKey,
  type PictureKind,
} from '../../workflows/story-ai-shared';
import type { drawPictureWorkflow, enhancePromptWorkflow } from '../../workflows/ai';
import { notFound } from '../problem';
import { awaitWorkflow } from './helpers/ai-wait';
import { idempotency } from '../idempotency';
import { sendStoredFile } from '../files';
import { parseStrict } from './helpers/request';
import { briefSchema } from '../../core/brief';
import type { EnhancedPrompt, Picture } from '../schemas/ai';

export const enhancePromptSchema = briefSchema.omit({ chapterCount: true }).strict();

export const generateImageSchema = z.strictObject({
  prompt: z.string().trim().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters').meta({ pattern: '\\S' }),
  style: briefSchema.shape.style,
  era: briefSchema.shape.era,
});

export const generateCoverSchema = generateImageSchema.extend({
  title: z.string().trim().min(1, 'must not be empty').max(120, 'must be at most 120 characters').meta({ pattern: '\\S' }).optional(),
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

  const run = <T>(req: Request, start: () => Promise<WorkflowHandle>, onTimeout: (h: WorkflowHandle) => Promise<unknown>, extra: Record<string, unknown> = {}) =>
    awaitWorkflow<T>({ log: deps.log, waitMs, temporal }, req, start, onTimeout, extra);

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
    res.json({ prompt: result.prompt, title: result.title, provider: result.provider } satisfies EnhancedPrompt);
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
      } satisfies Picture);
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
