import type { Knex } from 'knex';

/**
 * Sharing and whole-book revisions:
 * - `visibility`: a book is private to its owner until published; a public book is
 *   readable by anyone under /shared. Existing books stay private.
 * - `revision`: the revision workflow running (or last run) on a completed book,
 *   with its step and stage, so `/status` shows its progress without asking Temporal.
 * Both are added with defaults, so the migration runs forward on a populated
 * database without rewriting or losing any row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE memory_books
      ADD COLUMN visibility text NOT NULL DEFAULT 'private'
        CONSTRAINT memory_books_visibility_check CHECK (visibility IN ('private', 'public')),
      ADD COLUMN revision jsonb;
    CREATE INDEX idx_memory_books_public ON memory_books(published_at DESC) WHERE visibility = 'public';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS idx_memory_books_public;
    ALTER TABLE memory_books DROP COLUMN IF EXISTS revision, DROP COLUMN IF EXISTS visibility;
  `);
}
