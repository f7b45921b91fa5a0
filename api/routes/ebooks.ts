import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type { Services } from '../../lib/services';
import type { Logger } from '../../lib/logger';
import { isEraId, ERAS } from '../../lib/eras';
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
import { idempotency } from '../idempotency';
import { parseStrict } from './stories';
import { allowancePeriod, tierRules } from '../../lib/tiers';
import type { Ebook } from '../../db/repositories';

export const createEbookSchema = z.object({
  prompt: z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
  chapterCount: z.number().int('must be an integer').min(1, 'must be 1-24').max(24, 'must be 1-24').default(3),
  era: z
    .string()
    .refine(isEraId, { message: `must be one of ${ERAS.map((e: { id: string }) => e.id).join(', ')}` })
    .optional(),
  style: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  mood: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  characterName: z.string().trim().max(50, 'must be at most 50 characters').optional(),
  archetype: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  place: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  language: z
    .string()
    .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, 'must be a BCP 47 language tag such as "en"')
    .optional(),
  chapterMode: z.enum(['parallel', 'sequential'], { message: 'must be "parallel" or "sequential"' }).default('parallel'),
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
const fileKinds = ['pdf', 'epub', 'cover'] as const;

export interface EbookRouterDeps {
  services: Services;
  temporal: Client;
  taskQueue: string;
  priorityTaskQueue?: string;
  chapterConcurrency: number;
  log: Logger;
}

export function ebookRouter(deps: EbookRouterDeps): Router {
  const { services, temporal } = deps;
  const { repos, storage } = services;
  const router = Router();

  /** The caller's book, or 404: another user's book does not exist for them. */
  const ownBook = async (req: Request): Promise<Ebook> => {
    const id = idSchema.safeParse(req.params.id);
    if (!id.success) throw notFound('Ebook');
    const profile = await repos.profiles.getByClerkId(req.user!.userId);
    if (!profile) throw notFound('Ebook');
    const book = await repos.ebooks.getForUser(id.data, profile.id);
    if (!book) throw notFound('Ebook');
    return book;
  };

  router.post('/ebooks', idempotency(services.knex), async (req, res) => {
    if (!req.is('application/json')) {
      throw new HttpProblem(415, 'Unsupported Media Type', 'body: send application/json');
    }
    const parsed = createEbookSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw zodProblem(parsed.error, 'body');
    const brief = parsed.data;
    const user = req.user!;
    const profile = await repos.profiles.ensure({ clerkUserId: user.userId, role: user.role });
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
    };
    try {
      await temporal.workflow.start<typeof ebookWorkflow>('ebookWorkflow', {
        workflowId,
        taskQueue: rules.priorityQueue && deps.priorityTaskQueue ? deps.priorityTaskQueue : deps.taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: EBOOK_ID_ATTRIBUTE, value: id },
          { key: USER_ID_ATTRIBUTE, value: user.userId },
          { key: STAGE_ATTRIBUTE, value: 'queued' },
        ],
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
    const chapters = await Promise.all(
      book.chapters.map(async (c) => ({
        index: c.index,
        title: c.title,
        summary: c.summary,
        status: c.status,
        words: c.words,
        textProvider: c.textProvider,
        imageProvider: c.imageProvider,
        imageAlt: c.imageAlt,
        paragraphs: c.textKey ? await loadParagraphs(c.textKey) : undefined,
      })),
    );
    res.json({
      ...statusOf(book),
      description: book.description,
      prompt: book.prompt,
      settings: book.generationSettings,
      chapters,
      pdfUrl: book.pdfUrl ?? null,
      epubUrl: book.epubUrl ?? null,
      coverImageUrl: book.coverImageUrl ?? null,
      fileVersion: book.fileVersion,
      cost: book.cost ?? {},
      createdAt: book.createdAt,
      publishedAt: book.publishedAt ?? null,
    });
  });

  router.get('/ebooks/:id/status', async (req, res) => {
    const book = await ownBook(req);
    res.json(statusOf(book));
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
    const kind = req.params.kind as (typeof fileKinds)[number];
    if (!fileKinds.includes(kind)) throw notFound('File');
    const key = kind === 'pdf' ? book.pdfKey : kind === 'epub' ? book.epubKey : book.coverImageKey;
    if (!key) throw new HttpProblem(404, 'Not Found', `The ${kind} is not ready yet`, { status: book.status });
    const head = await storage.head(key);
    if (!head) throw notFound('File');
    const ext = key.slice(key.lastIndexOf('.') + 1);
    const name = `${slug(book.title) || 'ebook'}.${ext}`;
    if (storage.presignedUrl) {
      // From S3 the owner is sent to a short-lived signed URL: the bytes never pass
      // through the API, and the link stops working minutes later.
      const url = await storage.presignedUrl(key, {
        expiresInSeconds: 300,
        downloadName: kind === 'cover' ? undefined : name,
      });
      res.setHeader('Cache-Control', 'private, no-store');
      res.redirect(302, url);
      return;
    }
    res.setHeader('Content-Type', head.contentType);
    res.setHeader('Content-Length', String(head.bytes));
    res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
    res.setHeader(
      'Content-Disposition',
      `${kind === 'cover' ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    );
    // pipeline, not pipe: a client that hangs up also closes the file.
    await pipeline(await storage.stream(key), res).catch((err: unknown) => {
      if (!res.headersSent || !res.writableEnded) deps.log.warn({ err, key, requestId: req.id }, 'file stream ended early');
    });
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
    const profile = await repos.profiles.getByClerkId(req.user!.userId);
    const rules = tierRules(profile?.subscriptionTier);
    const workflowId = chapterRewriteWorkflowId(book.id, n, book.fileVersion);
    const input: ChapterRewriteInput = {
      ebookId: book.id,
      index: n,
      revision: book.fileVersion + 1,
      feedback: body.data.feedback,
      watermark: rules.watermark ? `Made with the ${rules.name} plan` : undefined,
    };
    try {
      await temporal.workflow.start<typeof regenerateChapterWorkflow>(CHAPTER_REWRITE_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: rules.priorityQueue && deps.priorityTaskQueue ? deps.priorityTaskQueue : deps.taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: EBOOK_ID_ATTRIBUTE, value: book.id },
          { key: USER_ID_ATTRIBUTE, value: req.user!.userId },
          { key: STAGE_ATTRIBUTE, value: 'rewriting' },
        ],
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
    const last = req.get('last-event-id') ?? (req.query.lastEventId as string | undefined);
    const afterId = last && /^\d+$/.test(last) ? Number(last) : 0;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: 2000\n: ebook ${book.id}\n\n`);
    let closed = false;
    const unsubscribe = await services.events.subscribe(book.id, afterId, (e) => {
      if (closed) return;
      res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data ?? {})}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      void unsubscribe();
    };
    req.on('close', close);
    res.on('error', close);
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

  async function loadParagraphs(key: string): Promise<string[] | undefined> {
    try {
      const stored = JSON.parse((await storage.get(key)).toString('utf8')) as { paragraphs: string[] };
      return stored.paragraphs;
    } catch {
      return undefined;
    }
  }
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
    updatedAt: book.updatedAt,
  };
}

function slug(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
    .slice(0, 80);
}

export type { Response };
