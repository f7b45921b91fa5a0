import type { Knex } from 'knex';

/**
 * Provider calls that belong to no book: generated stories, improved prompts and
 * single pictures from the AI routes. Their ledger rows carry the user (always)
 * and the story (when there is one) instead of a book, so spend per user still
 * sums every call.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE cost_ledger ALTER COLUMN ebook_id DROP NOT NULL;
    ALTER TABLE cost_ledger ADD COLUMN story_id uuid REFERENCES stories(id) ON DELETE SET NULL;
    CREATE INDEX idx_cost_ledger_story ON cost_ledger(story_id) WHERE story_id IS NOT NULL;
    CREATE INDEX idx_cost_ledger_user_unbooked ON cost_ledger(user_id) WHERE ebook_id IS NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS idx_cost_ledger_user_unbooked;
    DROP INDEX IF EXISTS idx_cost_ledger_story;
    ALTER TABLE cost_ledger DROP COLUMN IF EXISTS story_id;
    DELETE FROM cost_ledger WHERE ebook_id IS NULL;
    ALTER TABLE cost_ledger ALTER COLUMN ebook_id SET NOT NULL;
  `);
}
