import type { Knex } from 'knex';

/**
 * What the API's rules need: monthly ebook allowances reserved atomically per
 * user, the allowance a book holds (so it is released exactly once when the
 * book fails or is cancelled), stored answers for Idempotency-Key, and the ids
 * of webhook events already handled.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE ebook_allowances (
      profile_id uuid NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      period text NOT NULL,
      used integer NOT NULL DEFAULT 0 CHECK (used >= 0),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (profile_id, period)
    );

    ALTER TABLE memory_books ADD COLUMN allowance_period text;

    CREATE TABLE idempotency_keys (
      user_id text NOT NULL,
      key text NOT NULL,
      method text NOT NULL,
      path text NOT NULL,
      request_hash text NOT NULL,
      status_code integer,
      response jsonb,
      headers jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, key)
    );
    CREATE INDEX idx_idempotency_keys_created_at ON idempotency_keys(created_at);

    CREATE TABLE webhook_events (
      id text PRIMARY KEY,
      type text NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS webhook_events;
    DROP TABLE IF EXISTS idempotency_keys;
    ALTER TABLE memory_books DROP COLUMN IF EXISTS allowance_period;
    DROP TABLE IF EXISTS ebook_allowances;
  `);
}
