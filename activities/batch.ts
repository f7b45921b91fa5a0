/**
 * The activities of the scheduled batch re-generation (workflows/batch.ts): the
 * same selection and row reset as `npm run regenerate`, run on a worker.
 */
import type { BookBrief } from '../core/brief';
import type { BookRow, BookSelection, Repositories } from '../db/repositories';
import type { EbookWorkflowInput } from '../workflows/shared';
import { regenWorkflowId, type BatchBook, type BatchSelection } from '../workflows/batch-shared';

/** One batch run handles at most this many books: its history stays well inside Temporal's limits. */
export const MAX_BATCH_BOOKS = 2000;

const selectionOf = (s: BatchSelection, ids?: string[]): BookSelection => ({
  ...s,
  since: s.since ? new Date(s.since) : undefined,
  until: s.until ? new Date(s.until) : undefined,
  limit: Math.min(s.limit ?? MAX_BATCH_BOOKS, MAX_BATCH_BOOKS),
  ids,
});

/** The original request, from the row: the API stores the validated brief as generation_settings. */
export function briefOf(book: BookRow): BookBrief | undefined {
  const s = book.generationSettings;
  if (s && typeof s === 'object' && typeof (s as BookBrief).prompt === 'string' && (s as BookBrief).prompt.trim()) {
    const brief = { ...(s as BookBrief) };
    if (!Number.isInteger(brief.chapterCount)) brief.chapterCount = book.chapterCount || 3;
    return brief;
  }
  // Rows from before the engine kept only the prompt and the style preferences.
  if (!book.prompt?.trim()) return undefined;
  const prefs = (book.stylePreferences ?? {}) as { era?: string; style?: string; mood?: string };
  return {
    prompt: book.prompt,
    chapterCount: Math.min(Math.max(book.chapterCount || 3, 1), 24),
    ...(prefs.era ? { era: prefs.era } : {}),
    ...(prefs.style ? { style: prefs.style } : {}),
    ...(prefs.mood ? { mood: prefs.mood } : {}),
  };
}

/** The ebook workflow's input for re-running `book`. */
export function regenerationInput(book: BookRow, brief: BookBrief, chapterConcurrency: number): EbookWorkflowInput {
  return {
    ebookId: book.id,
    profileId: book.profileId,
    userId: book.clerkUserId,
    brief,
    concurrency: chapterConcurrency,
    // The same rule as the API: the owner's plan decides the watermark.
    watermark: book.subscriptionTier === 'free' || !book.subscriptionTier ? 'Made with the free plan' : undefined,
  };
}

export function createBatchActivities(deps: { repos: Pick<Repositories, 'regeneration'> }) {
  const { regeneration } = deps.repos;
  return {
    /** The books the selection matches now, oldest first, and whether this run already started each. */
    async selectBooksForRegeneration({ selection, run }: { selection: BatchSelection; run: string }): Promise<BatchBook[]> {
      const books = await regeneration.select(selectionOf(selection));
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
      const [book] = await regeneration.select({ ...selectionOf(input.selection, [input.ebookId]), statuses });
      if (!book) return { skip: 'no longer matches the selection' };
      const brief = briefOf(book);
      if (!brief) return { skip: 'the row has no prompt or generation settings to regenerate from' };
      const ours = book.status === ('queued' as string) && book.workflowId === workflowId;
      if (!ours && !(await regeneration.reset(book, workflowId))) {
        return { skip: 'no longer finished (it is in flight)' };
      }
      return { input: regenerationInput(book, brief, input.chapterConcurrency), clerkUserId: book.clerkUserId };
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
