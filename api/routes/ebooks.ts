import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import { briefSchema, CHAPTER_MODES } from '../../core/brief';
import {
  computeProgress,
  EBOOK_ID_ATTRIBUTE,
  ebookWorkflowId,
  STAGE_ATTRIBUTE,
  TERMINAL_STATUSES,
  USER_ID_ATTRIBUTE,
  CHAPTER_REWRITE_WORKFLOW_TYPE,
  chapterRewriteWorkflowId,
  type ChapterRewriteInput,
  type EbookStatus,
  type EbookWorkflowInput,
  type Stage,
} from '../../workflows/shared';
import type { ebookWorkflow } from '../../workflows/ebook';
import type { regenerateChapterWorkflow } from '../../workflows/regenerate-chapter';
import { HttpProblem, notFound, zodProblem } from '../problem';
import { streamEvents } from '../sse';
import { idempotency } from '../idempotency';
import { parseStrict } from './stories';
import { briefFromStory } from './story-brief';
import { allowancePeriod, tierRules } from '../../core/tiers';
import { printFile, type Ebook, type Repositories } from '../../db/repositories';
import { chapterParagraphs, createBookCache, type BookCache } from '../book-cache';
import { createStatusCache, type StatusCache } from '../status-cache';
import { sendBookFile } from '../files';
import { refuseWhileRevising } from '../revision-guard';
import { revisionProgress } from '../../workflows/revision-shared';

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

/** PUT /ebooks/:id: what a person may change about a book; anything else is refused by name. */
export const updateEbookSchema = z
  .strictObject({
    title: z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters').optional(),
    description: z.string().max(5000, 'must be at most 5000 characters').nullable().optional(),
  })
  .refine((b) => b.title !== undefined || b.description !== undefined, { message: 'must change title or description' });

const idSchema = z.string().uuid('must be a UUID');
export const rewriteSchema = z
  .object({ feedback: z.string().trim().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters').optional() })
  .strict();

export interface EbookRouterDeps {
  services: Services;
  temporal: Client;
  taskQueue: string;
  priorityTaskQueue?: string;
  chapterConcurrency: number;
  log: Logger;
  /** Chapter text read by GET /ebooks/{id}; a process-local one when not given. */
  bookCache?: BookCache;
  /** Recent status answers (api/status-cache.ts); a process-local one when not given. */
  statusCache?: StatusCache;
}

/**
 * Where a book's workflow runs (the paid plans' priority queue when there is one)
 * and the search attributes an operator finds it by.
 */
export function placement(
  deps: Pick<EbookRouterDeps, 'taskQueue' | 'priorityTaskQueue'>,
  rules: { priorityQueue: boolean },
  ebookId: string,
  userId: string,
  stage: string,
) {
  return {
    taskQueue: rules.priorityQueue && deps.priorityTaskQueue ? deps.priorityTaskQueue : deps.taskQueue,
    typedSearchAttributes: [
      { key: EBOOK_ID_ATTRIBUTE, value: ebookId },
      { key: USER_ID_ATTRIBUTE, value: userId },
      { key: STAGE_ATTRIBUTE, value: stage },
    ],
  };
}

/** The caller's book, or 404: another user's book does not exist for them. */
export async function findOwnBook(repos: Repositories, req: Request): Promise<Ebook> {
  const id = idSchema.safeParse(req.params.id);
  if (!id.success) throw notFound('Ebook');
  const book = await repos.ebooks.getForClerkUser(id.data, req.user!.userId);
  if (!book) throw notFound('Ebook');
  return book;
}

export function ebookRouter(deps: EbookRouterDeps): Router {
  const { services, temporal } = deps;
  const { repos, storage } = services;
  const router = Router();

  const ownBook = (req: Request) => findOwnBook(repos, req);
  const bookCache = deps.bookCache ?? createBookCache();
  const statusCache = deps.statusCache ?? createStatusCache();

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
      watermark: rules.watermark ? `Made with the ${rules.name} plan` : undefined,
      printReady: rules.printReady || undefined,
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

  router.get('/ebooks/:id', async (req, res) => {
    const book = await ownBook(req);
    const paragraphs = await chapterParagraphs(book, storage, bookCache);
    const chapters = book.chapters.map((c, i) => ({
      index: c.index,
      title: c.title,
      summary: c.summary,
      status: c.status,
      words: c.words,
      textProvider: c.textProvider,
      imageProvider: c.imageProvider,
      imageAlt: c.imageAlt,
      paragraphs: paragraphs[i],
    }));
    res.json({
      ...statusOf(book),
      description: book.description,
      prompt: book.prompt,
      settings: book.generationSettings,
      chapters,
      pdfUrl: book.pdfUrl ?? null,
      printPdfUrl: printFile(book) ? `/v1/ebooks/${book.id}/files/print?v=${book.fileVersion}` : null,
      epubUrl: book.epubUrl ?? null,
      coverImageUrl: book.coverImageUrl ?? null,
      fileVersion: book.fileVersion,
      cost: book.cost ?? {},
      createdAt: book.createdAt,
      publishedAt: book.publishedAt ?? null,
    });
  });

  router.get('/ebooks/:id/status', async (req, res) => {
    const answer = await statusCache.load(String(req.params.id), req.user!.userId, async () => {
      const book = await ownBook(req);
      return { id: book.id, doc: statusOf(book) };
    });
    res.setHeader('ETag', answer.etag);
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(answer.body);
  });

  router.post('/ebooks/:id/cancel', idempotency(services.knex), async (req, res) => {
    const book = await ownBook(req);
    if (TERMINAL_STATUSES.includes(book.status as EbookStatus)) {
      throw new HttpProblem(409, 'Conflict', `The book is already ${book.status}`, { status: book.status });
    }
    try {
      await temporal.workflow.getHandle(book.workflowId ?? ebookWorkflowId(book.id)).cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // The workflow is gone (never started, or its history expired): record the cancellation directly.
      await repos.ebooks.updateStatus(book.id, { status: 'cancelled', stage: 'cancelled' });
      await repos.usage.release(book.id);
    }
    await repos.activities.record({
      userId: book.userId,
      type: 'ebook_cancelled',
      data: { ebookId: book.id },
      dedupeKey: `ebook_cancelled:${book.id}`,
    });
    res.status(202).json({ id: book.id, status: 'cancelling' });
  });

  router.get('/ebooks/:id/files/:kind', async (req, res) => {
    const book = await ownBook(req);
    await sendBookFile(req, res, { storage, log: deps.log, cacheControl: 'private, max-age=0, must-revalidate' }, book, String(req.params.kind), { print: true });
  });

  router.post('/ebooks/:id/chapters/:n/regenerate', idempotency(services.knex), async (req, res) => {
    const book = await ownBook(req);
    const body = rewriteSchema.safeParse(req.body ?? {});
    if (!body.success) throw zodProblem(body.error, 'body');
    if (book.status !== 'completed') {
      throw new HttpProblem(409, 'Conflict', `Chapters can be rewritten once the book is completed; it is ${book.status}.`, {
        status: book.status,
      });
    }
    const n = Number(req.params.n);
    if (!Number.isInteger(n) || n < 1 || n > book.chapters.length) throw notFound('Chapter');
    if (book.revision?.status === 'running') await refuseWhileRevising(temporal, book);
    const profile = await repos.profiles.getByClerkId(req.user!.userId);
    const rules = tierRules(profile?.subscriptionTier);
    const workflowId = chapterRewriteWorkflowId(book.id, n, book.fileVersion);
    const input: ChapterRewriteInput = {
      ebookId: book.id,
      index: n,
      revision: book.fileVersion + 1,
      feedback: body.data.feedback,
      watermark: rules.watermark ? `Made with the ${rules.name} plan` : undefined,
      printReady: rules.printReady || undefined,
    };
    try {
      await temporal.workflow.start<typeof regenerateChapterWorkflow>(CHAPTER_REWRITE_WORKFLOW_TYPE, {
        workflowId,
        args: [input],
        ...placement(deps, rules, book.id, req.user!.userId, 'rewriting'),
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new HttpProblem(409, 'Conflict', 'This chapter is already being rewritten for the current version.', {
          workflowId,
        });
      }
      throw err;
    }
    res.status(202).json({ id: book.id, chapter: n, workflowId, fromVersion: book.fileVersion });
  });

  router.get('/ebooks/:id/events', async (req, res) => {
    const book = await ownBook(req);
    await streamEvents(req, res, services.events, book.id, 'ebook');
  });

  /** The book for changing or deleting: its owner's, or any for an admin; otherwise 404. */
  const managedBook = async (req: Request): Promise<Ebook> => {
    if (req.user!.role !== 'admin') return ownBook(req);
    const book = await repos.ebooks.get(String(req.params.id));
    if (!book) throw notFound('Ebook');
    return book;
  };

  router.put('/ebooks/:id', async (req, res) => {
    const body = parseStrict(updateEbookSchema, req.body ?? {}, 'body');
    const book = await managedBook(req);
    // A generating book's outline step writes the title itself and would undo this edit.
    if (!TERMINAL_STATUSES.includes(statusOf(book).status)) {
      throw new HttpProblem(409, 'Conflict', 'The book is still being generated; edit it once it has finished.', {
        status: book.status,
      });
    }
    const set: Record<string, unknown> = { updated_at: services.knex.fn.now() };
    if (body.title !== undefined) set.title = body.title;
    if (body.description !== undefined) set.description = body.description;
    await services.knex('memory_books').where({ id: book.id }).update(set);
    const updated = (await repos.ebooks.get(book.id)) ?? book;
    res.json({ ...statusOf(updated), description: updated.description });
  });

  router.delete('/ebooks/:id', async (req, res) => {
    const book = await managedBook(req);
    if (!TERMINAL_STATUSES.includes(statusOf(book).status)) {
      // Stop the generation before the row goes: its cleanup writes events that
      // reference the row, so wait (briefly) for it to close, then make sure it has.
      const handle = temporal.workflow.getHandle(book.workflowId ?? ebookWorkflowId(book.id));
      try {
        await handle.cancel();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          handle.result().catch(() => undefined),
          new Promise((r) => (timer = setTimeout(r, 15_000))),
        ]);
        clearTimeout(timer);
        if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('ebook deleted');
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      await repos.usage.release(book.id);
    }
    // Events go with the row (ON DELETE CASCADE); the files stay in storage.
    await services.knex('memory_books').where({ id: book.id }).delete();
    await repos.activities.record({
      userId: book.userId,
      type: 'ebook_deleted',
      data: { ebookId: book.id, title: book.title, by: req.user!.userId },
      dedupeKey: `ebook_deleted:${book.id}`,
    });
    res.status(204).end();
  });

  return router;
}

/** The status document: read from the database row, so status polls never load Temporal. */
export function statusOf(book: Ebook) {
  const stage = (book.stage ?? 'queued') as Stage;
  const status: EbookStatus = book.status === 'draft' ? 'queued' : book.status;
  const progress =
    status === 'failed' || status === 'cancelled' ? (book.progress ?? 0) : computeProgress(stage, book.chapters);
  const providers = (book.providers ?? {}) as { text?: string; image?: string };
  const used = [
    ...new Set(book.chapters.flatMap((c) => [c.textProvider, c.imageProvider]).filter(Boolean)),
  ] as string[];
  return {
    id: book.id,
    workflowId: book.workflowId,
    status,
    stage,
    progress,
    title: book.title,
    chapters: book.chapters.map((c) => ({
      index: c.index,
      title: c.title,
      status: c.status,
      words: c.words,
      textProvider: c.textProvider,
      imageProvider: c.imageProvider,
    })),
    providers: { ...providers, used },
    offline: used.includes('offline'),
    error: book.error ?? null,
    visibility: book.visibility,
    shareUrl: shareUrlOf(book),
    revision: book.revision ? { ...book.revision, progress: revisionProgress(book.revision, book.chapters) } : null,
    updatedAt: book.updatedAt,
  };
}

/** Where anyone reads a public book; null while it is private. */
export function shareUrlOf(book: Pick<Ebook, 'id' | 'visibility'>): string | null {
  return book.visibility === 'public' ? `/shared/ebooks/${book.id}` : null;
}

export type { Response };
