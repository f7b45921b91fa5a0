import type { Knex } from 'knex';

/**
 * What an operator's `temporal workflow reset` needs from the rows:
 * - `memory_books.closed_run_id`: the workflow run that recorded a book's end (failed or
 *   cancelled). A later run of the same workflow (a reset) may take the book back; an
 *   activity of the run that ended it (one still stopping) may not.
 * - `provider_settings.breakers_closed_at`: when the providers' circuit breakers were last
 *   closed on purpose (an admin, or a reset that says the fault was fixed); workers close
 *   theirs when they read a newer time with the provider order.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE memory_books ADD COLUMN closed_run_id text;
    ALTER TABLE provider_settings ADD COLUMN breakers_closed_at timestamptz;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE provider_settings DROP COLUMN IF EXISTS breakers_closed_at;
    ALTER TABLE memory_books DROP COLUMN IF EXISTS closed_run_id;
  `);
}
