/**
 * What the story routes answer (api/routes/stories.ts, story-generation.ts,
 * story-review.ts), as zod schemas the routes type their answers with and
 * api/openapi.ts documents, so an answer and its description cannot drift apart.
 */
import { z } from 'zod';
import { reviewOutlineSchema } from './ebooks';

const dateTime = z.string().describe('ISO 8601 date-time');
const jsonObject = z.record(z.string(), z.unknown());

export const STORY_STATUSES = ['draft', 'generating', 'completed', 'failed', 'published', 'archived'] as const;
export const STORY_STAGES = ['queued', 'outline', 'outline_review', 'writing', 'completed', 'failed'] as const;

/** A generated story's latest run (workflows/story-ai-shared.ts StoryGeneration), as kept in its metadata. */
export const storyGenerationSchema = z
  .object({
    revision: z.int().min(1).describe('The run: 1, then one more per rewrite'),
    workflowId: z.string(),
    stage: z.enum(STORY_STAGES),
    progress: z.number().min(0).max(1),
    sections: z.object({ done: z.int().min(0), total: z.int().min(0) }).optional(),
    providers: z.object({ text: z.string().optional() }).optional(),
    error: z.object({ type: z.string(), message: z.string() }).nullable().optional(),
    feedback: z.string().optional().describe("The reader's wish for this rewrite"),
    review: z.unknown().optional().describe('The storyline under review, while the run waits (stage outline_review)'),
    previousStatus: z.string().optional().describe("The story's status before this rewrite, restored when it ends"),
  })
  .catchall(z.unknown());

const storyFields = {
  id: z.uuid(),
  userId: z.string().nullable().describe("The owner's Clerk user id (null: the owner is gone)"),
  title: z.string(),
  promptData: z.unknown().describe('What the story was written from, as given'),
  metadata: jsonObject,
  status: z.enum(STORY_STATUSES),
  generation: storyGenerationSchema.nullable().describe("The engine's latest run, for a generated story; null for a hand-written one"),
  viewCount: z.int().min(0),
  words: z.int().min(0),
  createdAt: dateTime,
  updatedAt: dateTime,
};

/** GET, POST and PUT of a story. */
export const storySchema = z.object({ ...storyFields, content: z.string() });

/** GET /v1/users/{userId}/stories: a page of stories, without their text. */
export const storyPageSchema = z.object({
  items: z.array(z.object(storyFields)),
  nextCursor: z.string().nullable(),
});

/** GET /v1/stories/{id}/analytics. */
export const storyAnalyticsSchema = z.object({
  id: z.uuid(),
  viewCount: z.int().min(0),
  uniqueViewers: z.int().min(0),
  words: z.int().min(0),
  ebooks: z.array(z.object({ id: z.uuid(), title: z.string(), status: z.string() })).describe('The books made from the story, newest first'),
  createdAt: dateTime,
  updatedAt: dateTime,
});

/** POST /v1/stories/{id}/views. */
export const storyViewSchema = z.object({
  id: z.uuid(),
  counted: z.boolean().describe("false: the viewer's repeat within 30 minutes"),
  viewCount: z.int().min(0),
});

/** The storyline a story run waits with (GET, PUT /v1/stories/{id}/outline, revise, approve). */
export const storylineSchema = reviewOutlineSchema.extend({
  id: z.uuid(),
  revision: z.int().min(1).optional().describe("The story's run"),
  awaitingReview: z.boolean().describe('false once approved'),
});

export type StoryAnswer = z.infer<typeof storySchema>;
export type StoryPageAnswer = z.infer<typeof storyPageSchema>;
export type StoryAnalyticsAnswer = z.infer<typeof storyAnalyticsSchema>;
export type StoryView = z.infer<typeof storyViewSchema>;
export type Storyline = z.infer<typeof storylineSchema>;
