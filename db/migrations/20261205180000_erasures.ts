import type { Knex } from 'knex';

/**
 * The audit trail of erasures (a deleted book, an erased user): who asked, what,
 * when, and how much went, never what it held. One row per erasure workflow, so a
 * retried last step records it once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE erasures (
      id bigserial PRIMARY KEY,
      workflow_id text NOT NULL UNIQUE,
      -- 'ebook' (the book's id) or 'user' (the Clerk user id): identifiers, no content.
      subject_kind text NOT NULL CHECK (subject_kind IN ('ebook', 'user')),
      subject_id text NOT NULL,
      -- The caller's Clerk user id, or 'clerk' for Clerk's user.deleted webhook.
      requested_by text NOT NULL,
      source text NOT NULL,
      -- Rows and stored objects removed, by kind: numbers only.
      counts jsonb NOT NULL DEFAULT '{}',
      requested_at timestamptz NOT NULL,
      completed_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX idx_erasures_subject ON erasures(subject_kind, subject_id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS erasures');
}
