/**
 * What a book's steps read back: its row, its outline and chapters from storage, and
 * its brief. The brief is checked here, with the domain's schema, whether it comes
 * from the workflow's input or from the row: every step gets it one way.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { allowancePeriod } from '../core/tiers';
import { InvalidBriefError, parseBrief, type BookBrief } from '../core/brief';
import type { Ebook } from '../db/repositories';
import { ErrorTypes } from '../workflows/shared';
import type { ActivityDeps, StoredChapter } from './deps';
import type { Outline } from './providers/types';
import { keys } from './storage/types';

/** The brief, checked; a brief that is not one fails the step for good (no retry can mend it). */
export function checkedBrief(value: unknown, where: string): BookBrief {
  try {
    return parseBrief(value, where);
  } catch (err) {
    if (err instanceof InvalidBriefError) throw ApplicationFailure.nonRetryable(err.message, ErrorTypes.BadInput);
    throw err;
  }
}

/** The workflow run of the activity running now; undefined outside an activity. */
export function currentRun(): { workflowId: string; runId: string } | undefined {
  try {
    const run = Context.current().info.workflowExecution;
    return run ? { workflowId: run.workflowId, runId: run.runId } : undefined;
  } catch {
    return undefined;
  }
}

export interface BookReadOptions {
  /** Called once a reset run took a failed book back: the fault it failed on was fixed. */
  onReopened?: (ebookId: string) => Promise<void>;
}

export function createBookReads(deps: Pick<ActivityDeps, 'repos' | 'storage' | 'events'>, opts: BookReadOptions = {}) {
  const { repos, storage, events } = deps;

  /**
   * An operator reset the book's workflow (`temporal workflow reset`, or Reset in the Web
   * UI) after it failed: the new run's first step that reads the book takes it back to
   * running, with its allowance charged again (once), whatever point the reset went back to.
   */
  const reopenAfterReset = async (book: Ebook): Promise<Ebook> => {
    const run = currentRun();
    if (book.status !== 'failed' || !run || !book.closedRunId || book.closedRunId === run.runId) return book;
    if (book.workflowId !== run.workflowId) return book;
    const stage = book.chapters.length ? 'chapters' : 'outline';
    await repos.usage.recharge(book.id, allowancePeriod());
    // Steps of the reset run that start together all get here; one reopens the row, and
    // every one closes the breakers before it calls a provider.
    const reopened = await repos.ebooks.reopen(book.id, run.workflowId, run.runId, stage);
    await opts.onReopened?.(book.id);
    if (reopened) await events.publish(book.id, 'stage', { stage, reopened: true });
    return { ...book, status: 'running', stage, error: null, closedRunId: null };
  };

  return {
    async loadBook(ebookId: string): Promise<Ebook> {
      const book = await repos.ebooks.get(ebookId);
      if (!book) {
        throw ApplicationFailure.nonRetryable(`ebook ${ebookId} does not exist`, ErrorTypes.NotFound);
      }
      return reopenAfterReset(book);
    },

    /** The brief the book was started with, as the API stored it beside the row. */
    briefOf: (book: Ebook): BookBrief => checkedBrief(book.generationSettings, `ebook ${book.id}'s brief`),

    loadOutline: async (ebookId: string): Promise<Outline> =>
      JSON.parse((await storage.get(keys.outline(ebookId))).toString('utf8')) as Outline,

    loadChapter: async (key: string): Promise<StoredChapter> =>
      JSON.parse((await storage.get(key)).toString('utf8')) as StoredChapter,
  };
}

export type BookReads = ReturnType<typeof createBookReads>;

/** The book's picture seed: the same book draws the same pictures. */
export const seedOf = (ebookId: string) => parseInt(ebookId.replace(/-/g, '').slice(0, 8), 16) >>> 0;

/** The character/style bible every image prompt carries, so pictures stay consistent. */
export const bible = (outline: Outline) =>
  [
    `Style: ${outline.style}.`,
    `Palette: ${outline.palette.join(' and ')}.`,
    ...outline.characters.map((c) => `${c.name}: ${c.look}.`),
    `Setting: ${outline.setting}.`,
  ].join(' ');
