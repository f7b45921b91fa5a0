import type { Knex } from 'knex';

/**
 * What the story routes need: one row per (story, viewer) remembering when that
 * viewer's last counted view was (so repeat views within 30 minutes count once
 * and unique viewers are a row count), a keyset index for "my stories", and a
 * book's link to its story that clears itself when the story is deleted.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE story_views (
      story_id uuid NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
      viewer_id uuid NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      viewed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (story_id, viewer_id)
    );

    CREATE INDEX idx_stories_user_created ON stories(user_id, created_at DESC, id DESC);

    ALTER TABLE memory_books DROP CONSTRAINT memory_books_original_story_id_fkey;
    ALTER TABLE memory_books ADD CONSTRAINT memory_books_original_story_id_fkey
      FOREIGN KEY (original_story_id) REFERENCES stories(id) ON DELETE SET NULL;
    CREATE INDEX idx_memory_books_original_story ON memory_books(original_story_id) WHERE original_story_id IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS idx_memory_books_original_story;
    ALTER TABLE memory_books DROP CONSTRAINT memory_books_original_story_id_fkey;
    ALTER TABLE memory_books ADD CONSTRAINT memory_books_original_story_id_fkey
      FOREIGN KEY (original_story_id) REFERENCES stories(id);
    DROP INDEX IF EXISTS idx_stories_user_created;
    DROP TABLE IF EXISTS story_views;
  `);
}
