/**
 * POST /ebooks: a book from a prompt, or from one of the caller's completed
 * stories. The rules of starting one (allowance, queue) are in
 * api/services/start-ebook.ts; this file parses, answers and records the request.
 */
import { z } from 'zod';
import { briefSchema, CHAPTER_MODES, penNameSchema } from '../../../core/brief';
import { REVIEW_KINDS, type EbookStatus } from '../../../workflows/shared';
import { HttpProblem } from '../../problem';
import { parseStrict } from '../helpers/request';
import { idempotency } from '../../idempotency';
import { AllowanceUsedUp, EngineUnavailable, startEbook } from '../../services/start-ebook';
import { briefFromStory } from './story-brief';
import type { Started } from '../../schemas/ebooks';
import type { EbookRoutes } from './deps';

/** A book from a prompt, or from one of the caller's completed stories (`storyId`): exactly one of the two. */
export const createEbookSchema = briefSchema
  .extend({
    prompt: briefSchema.shape.prompt.optional(),
    storyId: z.string().uuid('must be a UUID').optional(),
    visibility: z.enum(['private', 'public'], { message: 'must be private or public' }).optional(),
    /** 'sequential' writes the chapters one after the other, each from the end of the one before. */
    chapterMode: z.enum(CHAPTER_MODES, { message: 'must be "parallel" or "sequential"' }).default('parallel'),
    /** 'outline': the book waits after its outline until its owner approves, edits or revises it. */
    review: z.enum(REVIEW_KINDS, { message: 'must be "outline"' }).optional(),
    /** The name the book is published under; default: the owner's profile name. */
    penName: penNameSchema.optional(),
  })
  // Unknown fields are refused by name, as on every route.
  .strict()
  .superRefine((b, ctx) => {
    if ((b.prompt === undefined) === (b.storyId === undefined)) {
      const message = b.prompt === undefined ? 'give a prompt or a storyId' : 'give either a prompt or a storyId, not both';
      ctx.addIssue({ code: 'custom', path: [b.prompt === undefined ? 'prompt' : 'storyId'], message });
    }
  })
  // The same rule in the document: exactly one of the two.
  .meta({ oneOf: [{ required: ['prompt'] }, { required: ['storyId'] }] });

export const createRoutes: EbookRoutes = (router, deps) => {
  const { services } = deps;
  const { repos } = services;

  router.post('/ebooks', idempotency(services.knex), async (req, res) => {
    if (!req.is('application/json')) {
      throw new HttpProblem(415, 'Unsupported Media Type', 'body: send application/json');
    }
    // Visibility is about the book row, not what the workflow writes from.
    const { visibility, review, penName, ...request } = parseStrict(createEbookSchema, req.body ?? {}, 'body');
    const user = req.user!;
    const profile = await repos.profiles.ensure({ clerkUserId: user.userId, role: user.role });
    // From a story: checked (owner, completed, long enough) before any allowance is taken.
    const brief = request.storyId
      ? await briefFromStory(services, profile.id, request, (req.body as { chapterCount?: unknown }).chapterCount !== undefined)
      : { ...request, prompt: request.prompt! };
    let started;
    try {
      started = await startEbook(
        { ...deps, repos, events: services.events },
        { profile, clerkUserId: user.userId, brief, visibility, review },
      );
    } catch (err) {
      if (err instanceof AllowanceUsedUp) {
        const { rules, period } = err;
        throw new HttpProblem(
          402,
          'Allowance used up',
          `The ${rules.name} plan includes ${rules.ebooksPerMonth} ebook(s) a month and this month's are used. ` +
            'Wait for next month or upgrade your plan.',
          { tier: err.tier, period, limit: rules.ebooksPerMonth },
        );
      }
      if (err instanceof EngineUnavailable) {
        deps.log.error({ err: err.cause, ebookId: err.ebookId, requestId: req.id }, 'workflow start failed');
        throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine is unreachable; try again shortly.');
      }
      throw err;
    }
    const { id, workflowId } = started;
    // Read when the files are rendered, long after this: the author of the copyright page.
    if (penName) await repos.ebooks.mergeMetadata(id, { author: penName });
    await repos.activities.record({
      userId: profile.id,
      type: 'ebook_requested',
      data: { ebookId: id },
      dedupeKey: `ebook_requested:${id}`,
      ipAddress: req.ip,
      userAgent: req.get('user-agent') ?? undefined,
    });
    res
      .status(202)
      .location(`/v1/ebooks/${id}`)
      .json({ id, workflowId, status: 'queued' satisfies EbookStatus } satisfies Started);
  });
};
