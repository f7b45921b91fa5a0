import type { Knex } from 'knex';

/**
 * What providers cost and how they behave:
 * - `cost_ledger`: one row per real provider call. `idempotency_key` is unique so a
 *   duplicate record of the same call (same workflow, activity, attempt, step, index)
 *   is dropped; `memory_books.cost` is recomputed from these rows.
 * - `provider_failures`: failed provider calls, for the AI services status page.
 * - `provider_settings`: the single row holding the admin's preferred provider order.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE cost_ledger (
      id bigserial PRIMARY KEY,
      ebook_id uuid NOT NULL REFERENCES memory_books(id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      step text NOT NULL,
      chapter_index integer,
      provider text NOT NULL,
      model text NOT NULL,
      input_tokens integer NOT NULL DEFAULT 0,
      output_tokens integer NOT NULL DEFAULT 0,
      images integer NOT NULL DEFAULT 0,
      cost_usd numeric(12,6) NOT NULL DEFAULT 0,
      estimated boolean NOT NULL DEFAULT true,
      idempotency_key text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX idx_cost_ledger_ebook ON cost_ledger(ebook_id);
    CREATE INDEX idx_cost_ledger_provider_created ON cost_ledger(provider, created_at DESC);

    CREATE TABLE provider_failures (
      id bigserial PRIMARY KEY,
      provider text NOT NULL,
      ebook_id uuid REFERENCES memory_books(id) ON DELETE SET NULL,
      step text NOT NULL,
      error_type text,
      message text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX idx_provider_failures_provider_created ON provider_failures(provider, created_at DESC);

    -- One row at most: the primary key can only be true.
    CREATE TABLE provider_settings (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      text_order text[],
      image_order text[],
      updated_by text,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS provider_settings; DROP TABLE IF EXISTS provider_failures; DROP TABLE IF EXISTS cost_ledger');
}
