/**
 * Stories: written text a book can be made from (POST /ebooks with `storyId`).
 * Their owners and admins manage them; published ones anyone signed in may read.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Services } from '../../wiring/services';
import type { Profile } from '../../db/repositories';
import { countWords, type Story } from '../../db/stories';
import { notFound, zodProblem } from '../problem';
import { listQuerySchema, pageOrProblem, parseStrict } from './helpers/request';
import { subjectProfile } from './helpers/users';
import type { StoryAnalyticsAnswer, StoryAnswer, StoryPageAnswer, StoryView } from '../schemas/stories';

const jsonObject = z.record(z.string(), z.unknown());

export const createStorySchema = z.strictObject({
  title: z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters').meta({ pattern: '\\S' }),
  // What fits in the API's 64 kB JSON body limit: a longer text could never arrive (413).
  content: z.string().min(1, 'must not be empty').max(60_000, 'must be at most 60000 characters'),
  promptData: jsonObject.optional(),
  metadata: jsonObject.optional(),
});

/** Statuses a person may set; `generating` and `failed` belong to the (future) story workflow. */
const EDITABLE_STATUSES = ['draft', 'completed', 'published', 'archived'] as const;

export const updateStorySchema = z
  .strictObject({
    title: createStorySchema.shape.title.optional(),
    content: createStorySchema.shape.content.optional(),
    status: z.enum(EDITABLE_STATUSES, { message: `must be one of ${EDITABLE_STATUSES.join(', ')}` }).optional(),
    metadata: jsonObject.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'must change at least one of title, content, status, metadata' })
  .meta({ minProperties: 1 });

function storyJson(s: Story, ownerClerkId?: string): StoryAnswer {
  return {
    id: s.id,
    userId: ownerClerkId ?? null,
    title: s.title,
    content: s.content,
    promptData: s.promptData,
    metadata: s.metadata,
    status: s.status,
    // The engine's latest run, for a generated story: revision, stage, progress 0..1, error.
    generation: (s.metadata.generation ?? null) as StoryAnswer['generation'],
    viewCount: s.viewCount,
    words: countWords(s.content),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** Stories: written text a book can be made from. Owners and admins manage them; published ones anyone signed in may read. */
export function storyRouter(services: Services): Router {
  const { repos } = services;
  const stories = repos.stories;
  const router = Router();

  const caller = (req: Request) =>
    repos.profiles.ensure({ clerkUserId: req.user!.userId, role: req.user!.role });

  /**
   * The story with the caller's relation to it. `manage` requires owner or admin;
   * otherwise a published story is readable by anyone signed in. Anything else is 404.
   */
  const storyFor = async (req: Request, access: 'read' | 'manage') => {
    const story = await stories.get(String(req.params.id));
    if (!story) throw notFound('Story');
    const me = await caller(req);
    const owner = story.userId === me.id;
    const allowed = owner || req.user!.role === 'admin' || (access === 'read' && story.status === 'published');
    if (!allowed) throw notFound('Story');
    return { story, me, owner };
  };

  const ownerClerkId = async (story: Story, me: Profile) => {
    if (story.userId === me.id) return me.clerkUserId;
    return (await repos.profiles.getById(story.userId))?.clerkUserId;
  };

  router.post('/stories', async (req, res) => {
    const body = parseStrict(createStorySchema, req.body ?? {}, 'body');
    const me = await caller(req);
    const story = await stories.create({ userId: me.id, ...body });
    await repos.activities.record({
      userId: me.id,
      type: 'story_created',
      data: { storyId: story.id },
      dedupeKey: `story_created:${story.id}`,
      ipAddress: req.ip,
      userAgent: req.get('user-agent') ?? undefined,
    });
    res.status(201).location(`/v1/stories/${story.id}`).json(storyJson(story, me.clerkUserId));
  });

  router.get('/stories/:id', async (req, res) => {
    const { story, me } = await storyFor(req, 'read');
    res.json(storyJson(story, await ownerClerkId(story, me)));
  });

  router.put('/stories/:id', async (req, res) => {
    const body = parseStrict(updateStorySchema, req.body ?? {}, 'body');
    const { story: before, me } = await storyFor(req, 'manage');
    const story = await stories.update(before.id, body);
    if (!story) throw notFound('Story');
    res.json(storyJson(story, await ownerClerkId(story, me)));
  });

  router.delete('/stories/:id', async (req, res) => {
    const { story } = await storyFor(req, 'manage');
    await stories.delete(story.id);
    res.status(204).end();
  });

  router.get('/stories/:id/analytics', async (req, res) => {
    const { story } = await storyFor(req, 'manage');
    res.json({ id: story.id, ...(await stories.analytics(story)), createdAt: story.createdAt, updatedAt: story.updatedAt } satisfies StoryAnalyticsAnswer);
  });

  router.post('/stories/:id/views', async (req, res) => {
    const { story, me } = await storyFor(req, 'read');
    const { counted, viewCount } = await stories.recordView(story.id, me.id);
    res.status(202).json({ id: story.id, counted, viewCount } satisfies StoryView);
  });

  router.get('/users/:userId/stories', async (req, res) => {
    const q = listQuerySchema.safeParse(req.query);
    if (!q.success) throw zodProblem(q.error, 'query');
    const profile = await subjectProfile(services, req);
    const page = await pageOrProblem(() => stories.listForUser(profile.id, q.data));
    res.json({
      // A list gives the text's size, not the text: a page of 200 kB stories would be huge.
      items: page.items.map((s) => {
        const { content: _text, ...rest } = storyJson(s, profile.clerkUserId);
        return rest;
      }),
      nextCursor: page.nextCursor ?? null,
    } satisfies StoryPageAnswer);
  });

  return router;
}
