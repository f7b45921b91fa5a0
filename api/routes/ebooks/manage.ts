/**
 * Changing a book as a whole: cancel its generation (owner), edit its title and
 * description, or delete it (owner, or any book for an admin): an erasure workflow
 * removes its rows and every stored object of it.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Ebook } from '../../../db/repositories';
import { ebookWorkflowId, TERMINAL_STATUSES, type EbookStatus } from '../../../workflows/shared';
import { penNameSchema } from '../../../core/brief';
import { HttpProblem, notFound } from '../../problem';
import { idempotency } from '../../idempotency';
import { findOwnBook, statusOf } from '../helpers/books';
import { parseStrict } from '../helpers/request';
import { finishedWithin, startBookErasure } from '../../services/erasure';
import type { EditedBook, Started } from '../../schemas/ebooks';
import type { EbookRoutes } from './deps';

/** PUT /ebooks/:id: what a person may change about a book; anything else is refused by name. */
export const updateEbookSchema = z
  .strictObject({
    title: z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters').meta({ pattern: '\\S' }).optional(),
    description: z.string().max(5000, 'must be at most 5000 characters').nullable().optional(),
    /** The name the book is published under; null goes back to the owner's profile name. */
    penName: penNameSchema.nullable().optional(),
  })
  .refine((b) => b.title !== undefined || b.description !== undefined || b.penName !== undefined, {
    message: 'must change title, description or penName',
  })
  .meta({ minProperties: 1 });

/** How long DELETE waits for the erasure before answering 202 (it goes on either way). */
const ERASE_WAIT_MS = 20_000;

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
    await repos.ebooks.updateDetails(book.id, body);
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
    // The row, its events and ledger lines, and every stored object of the book go in
    // an erasure workflow, which retries storage until it is empty; the answer waits
    // for it briefly, so a DELETE answered 204 has left nothing behind.
    const owner = (await repos.erasure.clerkIdOf(book.userId)) ?? req.user!.userId;
    const handle = await startBookErasure(
      deps,
      {
        ebookId: book.id,
        requestedBy: req.user!.userId,
        source: owner === req.user!.userId ? 'api' : 'admin',
        requestedAt: new Date().toISOString(),
      },
      owner,
    );
    // No title: the owner's activity log keeps that a book went, not what it held.
    await repos.activities.record({
      userId: book.userId,
      type: 'ebook_deleted',
      data: { ebookId: book.id, by: req.user!.userId },
      dedupeKey: `ebook_deleted:${book.id}`,
    });
    const done = await finishedWithin(handle, ERASE_WAIT_MS);
    await deps.bookCache.forget(book.id);
    if (done) {
      res.status(204).end();
      return;
    }
    res.status(202).json({ id: book.id, workflowId: handle.workflowId, status: 'erasing' } satisfies Started);
  });
};
