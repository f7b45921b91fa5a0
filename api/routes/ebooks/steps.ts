/**
 * Changing part of a completed book, published as its next file version:
 *
 * - POST /ebooks/{id}/chapters/{n}/regenerate rewrites one chapter
 *   (workflows/regenerate-chapter.ts);
 * - POST /ebooks/{id}/{chapters, illustrations, pdf, epub} runs one step again for
 *   the whole book (workflows/revise-ebook.ts). The workflow id names the book and
 *   the version it starts from, so only one revision of a book runs at a time.
 */
import { z } from 'zod';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { tierRules } from '../../../core/tiers';
import {
  CHAPTER_REWRITE_WORKFLOW_TYPE,
  chapterRewriteWorkflowId,
  type ChapterRewriteInput,
} from '../../../workflows/shared';
import {
  REVISION_STEPS,
  REVISION_WORKFLOW_TYPE,
  revisionWorkflowId,
  type RevisionInput,
  type RevisionStep,
} from '../../../workflows/revision-shared';
import type { regenerateChapterWorkflow } from '../../../workflows/regenerate-chapter';
import type { reviseEbookWorkflow } from '../../../workflows/revise-ebook';
import { HttpProblem, notFound, zodProblem } from '../../problem';
import { idempotency } from '../../idempotency';
import { refuseWhileRevising } from '../../revision-guard';
import { placement, planMarks } from '../../services/placement';
import { findOwnBook } from '../helpers/books';
import { announceRun } from '../../ebook-runs';
import { rewriteSchema } from '../helpers/request';
import type { Started } from '../../schemas/ebooks';
import type { EbookRoutes } from './deps';

/** Bodies of the steps: feedback for the chapters; nothing (or `{}`) for the others. */
export const revisionBodySchemas: Record<RevisionStep, z.ZodType<{ feedback?: string }>> = {
  chapters: rewriteSchema,
  illustrations: z.object({}).strict(),
  pdf: z.object({}).strict(),
  epub: z.object({}).strict(),
};

export const stepRoutes: EbookRoutes = (router, deps) => {
  const { services, temporal } = deps;
  const { repos } = services;

  router.post('/ebooks/:id/chapters/:n/regenerate', idempotency(services.knex), async (req, res) => {
    const book = await findOwnBook(repos, req);
    const body = rewriteSchema.safeParse(req.body ?? {});
    if (!body.success) throw zodProblem(body.error, 'body');
    if (book.status !== 'completed') {
      throw new HttpProblem(409, 'Conflict', `Chapters can be rewritten once the book is completed; it is ${book.status}.`, {
        bookStatus: book.status,
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
      ...planMarks(rules),
    };
    // Before the workflow starts, so nothing of the run comes before it on the stream.
    await announceRun(services.events, book.id, { kind: 'chapter', chapter: n, workflowId, run: input.revision });
    let runId: string;
    try {
      const handle = await temporal.workflow.start<typeof regenerateChapterWorkflow>(CHAPTER_REWRITE_WORKFLOW_TYPE, {
        workflowId,
        args: [input],
        ...placement(deps, rules, book.id, req.user!.userId, 'rewriting'),
      });
      runId = handle.firstExecutionRunId;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new HttpProblem(409, 'Conflict', 'This chapter is already being rewritten for the current version.', {
          workflowId,
        });
      }
      throw err;
    }
    // Visible in /status at once (`revision`, kind chapter); the workflow's own reports take over.
    await repos.sharing.claimRevision(book.id, {
      workflowId,
      runId,
      step: 'chapters',
      chapter: n,
      status: 'running',
      stage: 'queued',
      fromVersion: book.fileVersion,
      startedAt: new Date().toISOString(),
    });
    res
      .status(202)
      .location(`/v1/ebooks/${book.id}`)
      .json({ id: book.id, workflowId, status: 'running', chapter: n, fromVersion: book.fileVersion } satisfies Started);
  });

  for (const step of REVISION_STEPS) {
    router.post(`/ebooks/:id/${step}`, idempotency(services.knex), async (req, res) => {
      const book = await findOwnBook(repos, req);
      const body = revisionBodySchemas[step].safeParse(req.body ?? {});
      if (!body.success) throw zodProblem(body.error, 'body');
      if (book.status !== 'completed') {
        throw new HttpProblem(409, 'Conflict', `A step can be run again once the book is completed; it is ${book.status}.`, {
          bookStatus: book.status,
        });
      }
      await refuseWhileRevising(temporal, book);
      const profile = await repos.profiles.getByClerkId(req.user!.userId);
      const rules = tierRules(profile?.subscriptionTier);
      const workflowId = revisionWorkflowId(book.id, book.fileVersion);
      const input: RevisionInput = {
        ebookId: book.id,
        step,
        fromVersion: book.fileVersion,
        chapterCount: book.chapters.length,
        feedback: body.data.feedback,
        ...planMarks(rules),
        concurrency: deps.chapterConcurrency,
      };
      let runId: string;
      await announceRun(services.events, book.id, { kind: 'step', step, workflowId, run: book.fileVersion + 1 });
      try {
        const handle = await temporal.workflow.start<typeof reviseEbookWorkflow>(REVISION_WORKFLOW_TYPE, {
          workflowId,
          args: [input],
          ...placement(deps, rules, book.id, req.user!.userId, `revision-${step}`),
        });
        runId = handle.firstExecutionRunId;
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          throw new HttpProblem(409, 'Conflict', 'A revision of this book is already running; wait for it to publish.', {
            workflowId,
            revision: book.revision ?? undefined,
          });
        }
        throw err;
      }
      // Visible in /status at once; the workflow's own reports take over from here.
      await repos.sharing.claimRevision(book.id, {
        workflowId,
        runId,
        step,
        status: 'running',
        stage: 'queued',
        fromVersion: book.fileVersion,
        startedAt: new Date().toISOString(),
      });
      await repos.activities.record({
        userId: book.userId,
        type: 'ebook_revision_requested',
        data: { ebookId: book.id, step, fromVersion: book.fileVersion },
        dedupeKey: `ebook_revision_requested:${workflowId}:${runId}`,
        ipAddress: req.ip,
        userAgent: req.get('user-agent') ?? undefined,
      });
      res
        .status(202)
        .location(`/v1/ebooks/${book.id}`)
        .json({ id: book.id, workflowId, status: 'running', step, fromVersion: book.fileVersion } satisfies Started);
    });
  }
};
