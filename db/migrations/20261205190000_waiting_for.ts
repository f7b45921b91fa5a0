import type { Knex } from 'knex';

/**
 * What a running book waits for (issue 15): a step that finds file storage
 * unreachable says so here, and GET /v1/ebooks/{id}/status shows it as
 * `waitingFor`, until the store answers again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE memory_books ADD COLUMN waiting_for jsonb`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE memory_books DROP COLUMN IF EXISTS waiting_for`);
}
