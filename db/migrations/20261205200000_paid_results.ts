import type { Knex } from 'knex';

/**
 * What a provider call returned, kept with the ledger row that says it was paid for
 * (issue 20): a chapter's text, or where a picture's bytes were stored. A retry of the
 * same activity finds it there and reuses it instead of paying the provider again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE cost_ledger ADD COLUMN result jsonb`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE cost_ledger DROP COLUMN IF EXISTS result`);
}
