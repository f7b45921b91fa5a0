import type { Knex } from 'knex';

/**
 * Counters of the API's rate limits when no Redis is configured, in the shape
 * rate-limiter-flexible's PostgreSQL store uses. Created here rather than by the
 * library at run time, so every table comes from a migration.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE rate_limits (
      key varchar(255) PRIMARY KEY,
      points integer NOT NULL DEFAULT 0,
      expire bigint
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS rate_limits');
}
