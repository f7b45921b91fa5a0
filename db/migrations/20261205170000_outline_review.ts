import type { Knex } from 'knex';

/**
 * Books that wait for their owner to review the outline (issue 19): a status for
 * them, and the outline under review beside the row, so `/status` shows it
 * without asking Temporal (the row's chapters keep no cast).
 */
export async function up(knex: Knex): Promise<void> {
  // PostgreSQL 12+ adds an enum value inside a transaction; it is first used after this one commits.
  await knex.raw(`ALTER TYPE book_status ADD VALUE IF NOT EXISTS 'awaiting_review' AFTER 'running'`);
  await knex.raw(`ALTER TABLE memory_books ADD COLUMN outline_review jsonb`);
}

export async function down(knex: Knex): Promise<void> {
  // An enum value cannot be dropped; a waiting book goes back to running.
  await knex.raw(`UPDATE memory_books SET status = 'running' WHERE status = 'awaiting_review'`);
  await knex.raw(`ALTER TABLE memory_books DROP COLUMN IF EXISTS outline_review`);
}
