/**
 * The activities of the scheduled batch re-generation (workflows/batch.ts): the
 * same selection and row reset as `npm run regenerate`, run on a worker.
 */
import type { Knex } from 'knex';
import { briefOf, regenerationInput, resetForRegeneration, selectBooks } from '../scripts/regenerate';
import type { EbookWorkflowInput } from '../workflows/shared';
import { regenWorkflowId, type BatchBook, type BatchSelection } from '../workflows/batch-shared';

/** One batch run handles at most this many books: its history stays well inside Temporal's limits. */
export const MAX_BATCH_BOOKS = 2000;

const selectionOf = (s: BatchSelection, ids?: string[]) => ({
  ...s,
  since: s.since ? new Date(s.since) : undefined,
  until: s.until ? new Date(s.until) : undefined,
  limit: Math.min(s.limit ?? MAX_BATCH_BOOKS, MAX_BATCH_BOOKS),
  ids,
});

export function createBatchActivities(deps: { knex: Knex }) {
  const { knex } = deps;
  return {
    /** The books the selection matches now, oldest first, and whether this run already started each. */
    async selectBooksForRegeneration({ selection, run }: { selection: BatchSelection; run: string }): Promise<BatchBook[]> {
      const books = await selectBooks(knex, selectionOf(selection));
      return books.map((b) => ({ ebookId: b.id, title: b.title, alreadyStarted: b.workflowId === regenWorkflowId(run, b.id) }));
    },

    /**
     * Re-reads one book and puts it back to queued for this run's workflow; the
     * workflow input to start, or why it is skipped (no longer selected, or in flight).
     */
    async prepareRegeneration(input: {
      selection: BatchSelection;
      run: string;
      ebookId: string;
      chapterConcurrency: number;
    }): Promise<{ input: EbookWorkflowInput; clerkUserId: string } | { skip: string }> {
      const workflowId = regenWorkflowId(input.run, input.ebookId);
      // Queued too: an earlier attempt of this activity may have reset the row already.
      const statuses = [...input.selection.statuses, 'queued'] as BatchSelection['statuses'];
      const [book] = await selectBooks(knex, { ...selectionOf(input.selection, [input.ebookId]), statuses });
      if (!book) return { skip: 'no longer matches the selection' };
      const brief = briefOf(book);
      if (!brief) return { skip: 'the row has no prompt or generation settings to regenerate from' };
      const ours = book.status === ('queued' as string) && book.workflowId === workflowId;
      if (!ours && !(await resetForRegeneration(knex, book, workflowId))) {
        return { skip: 'no longer finished (it is in flight)' };
      }
      return { input: regenerationInput(book, brief, input.chapterConcurrency), clerkUserId: book.clerkUserId };
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
