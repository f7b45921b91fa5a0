/**
 * POST /ebooks: a book from a prompt, or from one of the caller's completed
 * stories: the allowance is reserved, the row written and the workflow started.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { briefSchema, CHAPTER_MODES } from '../../../core/brief';
import { allowancePeriod, tierRules } from '../../../core/tiers';
import { ebookWorkflowId, type EbookStatus, type EbookWorkflowInput } from '../../../workflows/shared';
import type { ebookWorkflow } from '../../../workflows/ebook';
import { HttpProblem, zodProblem } from '../../problem';
import { idempotency } from '../../idempotency';
import { placement, planMarks } from '../../services/placement';
import { briefFromStory } from './story-brief';
import type { EbookRoutes } from './deps';

/** A book from a prompt, or from one of the caller's completed stories (`storyId`): exactly one of the two. */
export const createEbookSchema = briefSchema
  .extend({
    prompt: briefSchema.shape.prompt.optional(),
    storyId: z.string().uuid('must be a UUID').optional(),
    visibility: z.enum(['private', 'public'], { message: 'must be private or public' }).optional(),
    /** 'sequential' writes the chapters one after the other, each from the end of the one before. */
    chapterMode: z.enum(CHAPTER_MODES, { message: 'must be "parallel" or "sequential"' }).default('parallel'),
  })
  .superRefine((b, ctx) => {
    if ((b.prompt === undefined) === (b.storyId === undefined)) {
      const message = b.prompt === undefined ? 'give a prompt or a storyId' : 'give either a prompt or a storyId, not both';
      ctx.addIssue({ code: 'custom', path: [b.prompt === undefined ? 'prompt' : 'storyId'], message });
    }
  });

export const createRoutes: EbookRoutes = (router, deps) => {
  const { services, temporal } = deps;
  const { repos } = services;

  router.post('/ebooks', idempotency(services.knex), async (req, res) => {
    if (!req.is('application/json')) {
      throw new HttpProblem(415, 'Unsupported Media Type', 'body: send application/json');
    }
    const parsed = createEbookSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw zodProblem(parsed.error, 'body');
    // Visibility is about the book row, not what the workflow writes from.
    const { visibility, ...request } = parsed.data;
    const user = req.user!;
    const profile = await repos.profiles.ensure({ clerkUserId: user.userId, role: user.role });
    // From a story: checked (owner, completed, long enough) before any allowance is taken.
    const brief = request.storyId
      ? await briefFromStory(services, profile.id, request, (req.body as { chapterCount?: unknown }).chapterCount !== undefined)
      : { ...request, prompt: request.prompt! };
    const rules = tierRules(profile.subscriptionTier);
    const period = allowancePeriod();
    // Reserved before anything is recorded or started: one conditional UPDATE, so
    // concurrent requests can never take more than the plan allows.
    if (!(await repos.usage.reserve(profile.id, period, rules.ebooksPerMonth))) {
      throw new HttpProblem(
        402,
        'Allowance used up',
        `The ${rules.name} plan includes ${rules.ebooksPerMonth} ebook(s) a month and this month's are used. ` +
          'Wait for next month or upgrade your plan.',
        { tier: profile.subscriptionTier, period, limit: rules.ebooksPerMonth },
      );
    }
    const id = randomUUID();
    const workflowId = ebookWorkflowId(id);
    try {
      await repos.ebooks.create({
        id,
        userId: profile.id,
        workflowId,
        prompt: brief.prompt,
        title: 'Untitled book',
        generationSettings: brief,
        stylePreferences: { era: brief.era, style: brief.style, mood: brief.mood },
        visibility,
        originalStoryId: brief.storyId,
      });
      await repos.usage.attach(id, period);
    } catch (err) {
      await repos.usage.unreserve(profile.id, period);
      throw err;
    }
    const input: EbookWorkflowInput = {
      ebookId: id,
      profileId: profile.id,
      userId: user.userId,
      brief,
      concurrency: deps.chapterConcurrency,
      ...planMarks(rules),
    };
    try {
      await temporal.workflow.start<typeof ebookWorkflow>('ebookWorkflow', {
        workflowId,
        args: [input],
        ...placement(deps, rules, id, user.userId, 'queued'),
        memo: { title: 'Untitled book' },
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        // Nothing runs for this row: say so on the row rather than leave a book that never moves.
        await repos.ebooks.updateStatus(id, {
          status: 'failed',
          stage: 'failed',
          error: { type: 'StartFailed', message: 'The generation could not be started' },
        });
        await repos.usage.release(id);
        deps.log.error({ err, ebookId: id, requestId: req.id }, 'workflow start failed');
        throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine is unreachable; try again shortly.');
      }
    }
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
      .json({ id, workflowId, status: 'queued' satisfies EbookStatus });
  });
};
