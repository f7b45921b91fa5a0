/**
 * Changing a book as a whole: cancel its generation (owner), edit its title and
 * description, or delete it (owner, or any book for an admin).
 */
import type { Request } from 'express';
import { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Ebook } from '../../../db/repositories';
import { ebookWorkflowId, TERMINAL_STATUSES, type EbookStatus } from '../../../workflows/shared';
import { HttpProblem, notFound } from '../../problem';
import { idempotency } from '../../idempotency';
import { findOwnBook, statusOf } from '../helpers/books';
import { parseStrict } from '../helpers/request';
import type { EditedBook, Started } from '../../schemas/ebooks';
import type { EbookRoutes } from './deps';

/** PUT /ebooks/:id: what a person may change about a book; anything else is refused by name. */
export const updateEbookSchema = z
  .strictObject({
    title: z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters').optional(),
    description: z.string().max(5000, 'must be at most 5000 characters').nullable().optional(),
  })
  .refine((b) => b.title !== undefined || b.description !== undefined, { message: 'must change title or description' });

export const manageRoutes: EbookRoutes = (router, deps) => {
  const { services, temporal } = deps;
  const { repos } = services;

  router.post('/ebooks/:id/cancel', idempotency(services.knex), async (req, res) => {
    const book = await findOwnBook(repos, req);
    if (TERMINAL_STATUSES.includes(book.status as EbookStatus)) {
      throw new HttpProblem(409, 'Conflict', `The book is already ${book.status}`, { bookStatus: book.status });
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
    res
      .status(202)
      .location(`/v1/ebooks/${book.id}`)
      .json({ id: book.id, workflowId: book.workflowId ?? ebookWorkflowId(book.id), status: 'cancelling' } satisfies Started);
  });

  /** The book for changing or deleting: its owner's, or any for an admin; otherwise 404. */
  const managedBook = async (req: Request): Promise<Ebook> => {
    if (req.user!.role !== 'admin') return findOwnBook(repos, req);
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
        bookStatus: book.status,
      });
    }
    const set: Record<string, unknown> = { updated_at: services.knex.fn.now() };
    if (body.title !== undefined) set.title = body.title;
    if (body.description !== undefined) set.description = body.description;
    await services.knex('memory_books').where({ id: book.id }).update(set);
    const updated = (await repos.ebooks.get(book.id)) ?? book;
    res.json({ ...statusOf(updated), description: updated.description } satisfies EditedBook);
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
};
