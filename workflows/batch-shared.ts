/**
 * Names and shapes shared by the batch re-generation workflow, its activities
 * and `npm run regenerate` (which creates the Temporal Schedule that starts it).
 * Safe to import from workflow code: nothing here touches I/O.
 */
import { EBOOK_ID_ATTRIBUTE, STAGE_ATTRIBUTE, USER_ID_ATTRIBUTE } from './shared';

export const BATCH_REGENERATE_WORKFLOW_TYPE = 'batchRegenerateWorkflow';

/** The workflow id of one book's re-run under a run label: starting it twice is refused. */
export function regenWorkflowId(run: string, ebookId: string): string {
  return `regen-${run}-${ebookId}`;
}

/** The id a schedule gives its batch runs (Temporal appends each run's scheduled time). */
export function batchWorkflowId(scheduleId: string): string {
  return `regen-batch-${scheduleId}`;
}

/** The selection of `npm run regenerate`, as it travels in workflow input (dates as ISO strings). */
export interface BatchSelection {
  statuses: Array<'completed' | 'failed' | 'cancelled'>;
  since?: string;
  until?: string;
  user?: string;
  style?: string;
  era?: string;
  provider?: string;
  limit?: number;
}

export interface BatchRegenerateInput {
  selection: BatchSelection;
  /**
   * The run label's prefix (the schedule id). Each run's label adds its
   * scheduled time, so every scheduled run re-runs a book at most once.
   */
  labelPrefix: string;
  /** A fixed label instead (tests, a manual one-off run). */
  run?: string;
  /** Books in flight at once. */
  concurrency: number;
  /** Chapters in flight per book. */
  chapterConcurrency?: number;
  /** Where the books' workflows run (default: the batch's own task queue). */
  taskQueue?: string;
}

/** One selected book, as little as the batch needs in its history. */
export interface BatchBook {
  ebookId: string;
  title: string;
  /** Already started under this run's label (its row points at the run's workflow id). */
  alreadyStarted: boolean;
}

export interface BatchRegenerateResult {
  run: string;
  selected: number;
  completed: number;
  failed: number;
  skipped: number;
  /** `ebookId: message`, one per failed book. */
  failures: string[];
}

/** The search attributes a re-run starts with, as the API sets them for a new book. */
export function regenerationSearchAttributes(book: { id: string; clerkUserId: string }) {
  return [
    { key: EBOOK_ID_ATTRIBUTE, value: book.id },
    { key: USER_ID_ATTRIBUTE, value: book.clerkUserId },
    { key: STAGE_ATTRIBUTE, value: 'queued' },
  ];
}
