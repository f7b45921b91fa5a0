/**
 * The outline review of a book started with `review: "outline"`: read the outline
 * the book waits with, edit it, ask for a revision, or approve it. Each answer is
 * the workflow's `reviewOutline` update, and each route answers with the outline as
 * the workflow then holds it. The rules of an answer live once, in
 * core/outline-review.ts, and are enforced by the update's validator: a refused
 * answer becomes a 400 naming the field, and nothing reaches the book's history.
 */
import type { Request } from 'express';
import { z } from 'zod';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { CHAPTER_COUNT } from '../../../core/limits';
import { OUTLINE_LIMITS, type AnswerProblem, type OutlineAnswer } from '../../../core/outline-review';
import type { Ebook } from '../../../db/repositories';
import {
  ebookWorkflowId,
  ErrorTypes,
  outlineQuery,
  ReviewErrorTypes,
  reviewOutlineUpdate,
  type ReviewOutline,
} from '../../../workflows/shared';
import { HttpProblem } from '../../problem';
import { findOwnBook } from '../helpers/books';
import type { EbookRoutes } from './deps';

// For the OpenAPI description only: the update's validator checks the same limits.
const text = (max: number) => z.string().min(1).max(max);
export const outlineEditSchema = z.object({
  title: text(OUTLINE_LIMITS.title).optional(),
  chapters: z
    .array(z.object({ title: text(OUTLINE_LIMITS.title), summary: text(OUTLINE_LIMITS.summary) }))
    .min(CHAPTER_COUNT.min)
    .max(CHAPTER_COUNT.max),
});
export const outlineReviseSchema = z.object({ feedback: text(OUTLINE_LIMITS.feedback) });

const notWaiting = (book: Pick<Ebook, 'status'>) =>
  new HttpProblem(409, 'Conflict', 'The book is not waiting for its outline to be reviewed', { status: book.status });

const body = (req: Request): Record<string, unknown> =>
  typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? req.body : {};

export const reviewRoutes: EbookRoutes = (router, deps) => {
  const { services, temporal } = deps;
  const { repos } = services;

  const waitingBook = async (req: Request): Promise<Ebook> => {
    const book = await findOwnBook(repos, req);
    if (book.status !== 'awaiting_review') throw notWaiting(book);
    return book;
  };
  const handleOf = (book: Ebook) => temporal.workflow.getHandle(book.workflowId ?? ebookWorkflowId(book.id));
  const answerWith = (book: Ebook, review: ReviewOutline) => ({ id: book.id, awaitingReview: true, ...review });

  /** Sends the answer as the update; the validator's refusals become 400 or 409. */
  const answer = async (book: Ebook, sent: OutlineAnswer): Promise<ReviewOutline> => {
    try {
      return await handleOf(book).executeUpdate(reviewOutlineUpdate, { args: [sent] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notWaiting(book);
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
        throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine did not answer in time; try again shortly.');
      }
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === ReviewErrorTypes.InvalidAnswer) {
        const problem = (cause.details?.[0] ?? { field: 'body', message: cause.message }) as AnswerProblem;
        const field = problem.field === 'body' ? 'body' : `body.${problem.field}`;
        throw new HttpProblem(400, 'Invalid request', `${field}: ${problem.message}`, {
          errors: [{ field, message: problem.message }],
        });
      }
      if (cause instanceof ApplicationFailure && cause.type === ReviewErrorTypes.NotAwaitingReview) throw notWaiting(book);
      // The answer was accepted but its step failed (a revision's feedback refused, the providers down):
      // the book still waits with the outline it had.
      if (cause instanceof ActivityFailure) {
        const failure = cause.cause instanceof ApplicationFailure ? cause.cause : undefined;
        if (failure?.type === ErrorTypes.ContentRefused) {
          throw new HttpProblem(422, 'Content refused', 'body.feedback: was refused by content moderation', {
            errors: [{ field: 'body.feedback', message: 'was refused by content moderation' }],
          });
        }
        deps.log.warn({ err, ebookId: book.id }, 'outline review step failed');
        throw new HttpProblem(502, 'Bad Gateway', 'The outline could not be changed just now; the book still waits. Try again.');
      }
      throw err;
    }
  };

  router.get('/ebooks/:id/outline', async (req, res) => {
    const book = await waitingBook(req);
    let review: ReviewOutline | null;
    try {
      review = await handleOf(book).query(outlineQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notWaiting(book);
      throw err;
    }
    if (!review) throw notWaiting(book);
    res.json(answerWith(book, review));
  });

  router.put('/ebooks/:id/outline', async (req, res) => {
    const book = await waitingBook(req);
    const { title, chapters } = body(req);
    const review = await answer(book, { action: 'edit', title, chapters } as OutlineAnswer);
    res.json(answerWith(book, review));
  });

  router.post('/ebooks/:id/outline/revise', async (req, res) => {
    const book = await waitingBook(req);
    const review = await answer(book, { action: 'revise', feedback: body(req).feedback } as OutlineAnswer);
    res.json(answerWith(book, review));
  });

  router.post('/ebooks/:id/outline/approve', async (req, res) => {
    const book = await waitingBook(req);
    const review = await answer(book, { action: 'approve' });
    // Approved: the book runs on to its chapters and waits no more.
    res.json({ ...answerWith(book, review), awaitingReview: false });
  });
};
