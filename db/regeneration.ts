/**
 * The queries of batch re-generation (`npm run regenerate` and the scheduled batch
 * workflow's activities): which finished books a selection matches, and the guarded
 * reset of a row to queued for a new workflow (and its undo when none started).
 */
import type { Knex } from 'knex';

/** Only finished books: one in flight already has a workflow writing to its row. */
export const REGENERABLE = ['completed', 'failed', 'cancelled'] as const;
export type Regenerable = (typeof REGENERABLE)[number];

/** Which books a run takes (all optional but the statuses, combined with AND). */
export interface BookSelection {
  statuses: Regenerable[];
  since?: Date;
  until?: Date;
  user?: string;
  style?: string;
  era?: string;
  provider?: string;
  limit?: number;
  /** Only these books (a scheduled run re-reads each book just before starting it). */
  ids?: string[];
}

export interface BookRow {
  id: string;
  profileId: string;
  clerkUserId: string;
  subscriptionTier: string | null;
  title: string;
  prompt: string | null;
  status: Regenerable;
  stage: string | null;
  progress: number;
  error: unknown;
  workflowId: string | null;
  generationSettings: unknown;
  stylePreferences: unknown;
  chapterCount: number;
  createdAt: string;
}

async function selectBooks(knex: Knex, flags: BookSelection): Promise<BookRow[]> {
  const q = knex('memory_books as b')
    .join('profiles as p', 'p.id', 'b.user_id')
    .select(
      'b.id',
      'b.user_id',
      'p.clerk_user_id',
      'p.subscription_tier',
      'b.title',
      'b.prompt',
      'b.status',
      'b.stage',
      'b.progress',
      'b.error',
      'b.workflow_id',
      'b.generation_settings',
      'b.style_preferences',
      knex.raw(`CASE WHEN jsonb_typeof(b.chapters) = 'array' THEN jsonb_array_length(b.chapters) ELSE 0 END AS chapter_count`),
      'b.created_at',
    )
    .whereIn('b.status', flags.statuses)
    .orderBy([
      { column: 'b.created_at', order: 'asc' },
      { column: 'b.id', order: 'asc' },
    ]);
  if (flags.ids) q.whereIn('b.id', flags.ids);
  if (flags.since) q.where('b.created_at', '>=', flags.since);
  if (flags.until) q.where('b.created_at', '<', flags.until);
  if (flags.user) q.where('p.clerk_user_id', flags.user);
  // The API keeps style/era in both columns; older rows may have only one.
  if (flags.style) q.whereRaw(`coalesce(b.generation_settings->>'style', b.style_preferences->>'style') = ?`, [flags.style]);
  if (flags.era) q.whereRaw(`coalesce(b.generation_settings->>'era', b.style_preferences->>'era') = ?`, [flags.era]);
  if (flags.provider) {
    q.whereRaw(
      `(b.providers->>'text' = ? OR b.providers->>'image' = ? OR EXISTS (
          SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(b.chapters) = 'array' THEN b.chapters ELSE '[]'::jsonb END) c
          WHERE c->>'textProvider' = ? OR c->>'imageProvider' = ?))`,
      [flags.provider, flags.provider, flags.provider, flags.provider],
    );
  }
  if (flags.limit) q.limit(flags.limit);
  const rows = await q;
  return rows.map((r: Record<string, any>) => ({
    id: r.id,
    profileId: r.user_id,
    clerkUserId: r.clerk_user_id,
    subscriptionTier: r.subscription_tier,
    title: r.title,
    prompt: r.prompt,
    status: r.status,
    stage: r.stage,
    progress: Number(r.progress),
    error: r.error,
    workflowId: r.workflow_id,
    generationSettings: r.generation_settings,
    stylePreferences: r.style_preferences,
    chapterCount: Number(r.chapter_count),
    createdAt: (r.created_at instanceof Date ? r.created_at : new Date(r.created_at)).toISOString(),
  }));
}

/**
 * Puts a finished book back to queued, pointing at the new workflow, so the
 * workflow's activities may move it again (updateStatus leaves terminal rows
 * alone). Guarded on the status, so a book that went into flight since the
 * selection is left alone. Returns whether the row was reset.
 */
async function resetForRegeneration(knex: Knex, book: BookRow, workflowId: string): Promise<boolean> {
  const result = await knex.raw(
    `UPDATE memory_books
     SET status = 'queued', stage = 'queued', error = NULL, progress = 0, waiting_for = NULL, workflow_id = ?, updated_at = now()
     WHERE id = ? AND status IN ('completed', 'failed', 'cancelled')`,
    [workflowId, book.id],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Undoes the reset when no workflow of ours will run for the row. */
async function restoreAfterFailedStart(knex: Knex, book: BookRow, workflowId: string): Promise<void> {
  await knex.raw(
    `UPDATE memory_books
     SET status = ?, stage = ?, error = ?::jsonb, progress = ?, workflow_id = ?, updated_at = now()
     WHERE id = ? AND status = 'queued' AND workflow_id = ?`,
    [book.status, book.stage, book.error == null ? null : JSON.stringify(book.error), book.progress, book.workflowId, book.id, workflowId],
  );
}

export function createRegenerationRepository(knex: Knex) {
  return {
    select: (selection: BookSelection) => selectBooks(knex, selection),
    reset: (book: BookRow, workflowId: string) => resetForRegeneration(knex, book, workflowId),
    restoreAfterFailedStart: (book: BookRow, workflowId: string) => restoreAfterFailedStart(knex, book, workflowId),
  };
}
