/**
 * The outline review of a book started with `review: "outline"`: read the outline
 * the book waits with, edit it, ask for a revision, or approve it. Each answer is
 * the workflow's `reviewOutline` update (api/routes/helpers/review.ts), and each
 * route answers with the outline as the workflow then holds it.
 */
import type { Request } from 'express';
import type { Ebook } from '../../../db/repositories';
import { ebookWorkflowId, type ReviewOutline } from '../../../workflows/shared';
import { HttpProblem } from '../../problem';
import { findOwnBook } from '../helpers/books';
import { answerOf, heldOutline, sendAnswer } from '../helpers/review';
import type { EbookRoutes } from './deps';

const notWaiting = (book: Pick<Ebook, 'status'>) => () =>
  new HttpProblem(409, 'Conflict', 'The book is not waiting for its outline to be reviewed', { status: book.status });

export const reviewRoutes: EbookRoutes = (router, deps) => {
  const { services, temporal, log } = deps;
  const { repos } = services;

  const waitingBook = async (req: Request): Promise<Ebook> => {
    const book = await findOwnBook(repos, req);
    if (book.status !== 'awaiting_review') throw notWaiting(book)();
    return book;
  };
  const handleOf = (book: Ebook) => temporal.workflow.getHandle(book.workflowId ?? ebookWorkflowId(book.id));
  const answerWith = (book: Ebook, review: ReviewOutline) => ({ id: book.id, awaitingReview: true, ...review });

  router.get('/ebooks/:id/outline', async (req, res) => {
    const book = await waitingBook(req);
    res.json(answerWith(book, await heldOutline(handleOf(book), notWaiting(book))));
  });

  router.put('/ebooks/:id/outline', async (req, res) => {
    const book = await waitingBook(req);
    res.json(answerWith(book, await sendAnswer(handleOf(book), answerOf(req, 'edit'), notWaiting(book), log)));
  });

  router.post('/ebooks/:id/outline/revise', async (req, res) => {
    const book = await waitingBook(req);
    res.json(answerWith(book, await sendAnswer(handleOf(book), answerOf(req, 'revise'), notWaiting(book), log)));
  });

  router.post('/ebooks/:id/outline/approve', async (req, res) => {
    const book = await waitingBook(req);
    const review = await sendAnswer(handleOf(book), answerOf(req, 'approve'), notWaiting(book), log);
    // Approved: the book runs on to its chapters and waits no more.
    res.json({ ...answerWith(book, review), awaitingReview: false });
  });
};
