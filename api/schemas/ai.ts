/**
 * What the AI routes answer (api/routes/ai.ts, ai-generate.ts, ai-services.ts),
 * as zod schemas the routes type their answers with and api/openapi.ts documents.
 */
import { z } from 'zod';

const dateTime = z.string().describe('ISO 8601 date-time');
const providerName = z.string().describe('The provider that did the work, e.g. openai, groq, runware, offline');

/** POST /v1/ai/enhance/prompt. */
export const enhancedPromptSchema = z.object({
  prompt: z.string().describe('The improved prompt'),
  title: z.string().describe('A title for it'),
  provider: providerName,
});

/** POST /v1/ai/generate/image and /cover: the picture, stored for its owner at `url`. */
export const pictureSchema = z.object({
  id: z.uuid(),
  kind: z.enum(['image', 'cover']),
  url: z.string().describe('GET it (its owner only): /v1/ai/images/{id}'),
  contentType: z.string(),
  width: z.int().min(1),
  height: z.int().min(1),
  bytes: z.int().min(1),
  provider: providerName,
  model: z.string(),
});

/** POST /v1/ai/enhance/image: the enlarged picture, stored as a new one at `url`. */
export const upscaledPictureSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  scale: z.union([z.literal(2), z.literal(4)]),
  denoise: z.boolean(),
  contentType: z.string(),
  width: z.int().min(1),
  height: z.int().min(1),
  bytes: z.int().min(1),
  provider: providerName,
  model: z.string(),
});

/** GET /v1/ai/chapters/{id}: a chapters job. */
export const chaptersJobSchema = z.object({
  id: z.uuid(),
  status: z.enum(['running', 'completed', 'failed']),
  chapterCount: z.int().min(1),
  rewrite: z.boolean(),
  createdAt: dateTime,
  completedAt: dateTime.optional(),
  chapters: z
    .array(z.object({ index: z.int().min(1), title: z.string(), paragraphs: z.array(z.string()), words: z.int().min(0) }))
    .optional()
    .describe('Once completed'),
  provider: providerName.optional(),
  error: z.object({ type: z.string(), message: z.string() }).optional().describe('Once failed'),
});

/** POST /v1/ai/generate/chapters: the job started; follow it at Location. */
export const chaptersStartedSchema = z.object({ id: z.uuid(), workflowId: z.string(), status: z.enum(['running']) });

const rank = z.int().min(1).nullable().describe("Place in the order (1 first); null: not in it");

/** GET /v1/ai/services/status. */
export const providerStatusSchema = z.object({
  windowSeconds: z.int().min(1),
  order: z.object({
    text: z.array(z.string()),
    image: z.array(z.string()),
    source: z.enum(['settings', 'config']).describe("settings: an admin's switch; config: the deployment's"),
    updatedAt: dateTime.nullable(),
  }),
  providers: z.array(
    z.object({
      name: z.enum(['groq', 'openai', 'runware', 'offline']),
      kinds: z.array(z.enum(['text', 'image'])),
      configured: z.boolean(),
      preferred: z.object({ text: rank, image: rank }),
      lastSuccessAt: dateTime.nullable(),
      lastFailureAt: dateTime.nullable(),
      calls: z.int().min(0),
      failures: z.int().min(0),
      errorRate: z.number().min(0).max(1).nullable().describe('Failed share of the calls in the window; null when there were none'),
    }),
  ),
});

/** POST /v1/ai/services/switch. */
export const providerOrderSchema = z.object({
  text: z.array(z.string()),
  image: z.array(z.string()),
  updatedAt: dateTime.nullable(),
  updatedBy: z.string().nullable(),
});

/** POST /v1/ai/services/breakers/close. */
export const breakersClosedSchema = z.object({ breakersClosedAt: dateTime });

export type EnhancedPrompt = z.infer<typeof enhancedPromptSchema>;
export type Picture = z.infer<typeof pictureSchema>;
export type UpscaledPicture = z.infer<typeof upscaledPictureSchema>;
export type ChaptersJobAnswer = z.infer<typeof chaptersJobSchema>;
export type ChaptersStarted = z.infer<typeof chaptersStartedSchema>;
export type ProviderStatus = z.infer<typeof providerStatusSchema>;
export type ProviderOrder = z.infer<typeof providerOrderSchema>;
export type BreakersClosed = z.infer<typeof breakersClosedSchema>;
