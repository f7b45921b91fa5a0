import type { Knex } from 'knex';

/**
 * The sessions this engine issues itself (the local key's sign-in links and
 * `npm run token`), and any session an admin or user revoked (Clerk's too): a
 * revoked session's tokens are refused at once, not only when they expire, so the
 * API needs a record it can look a token's `sid` up in. Keyed by the Clerk user
 * id, not the profile: a token can be issued before its user's profile exists.
 * A session id counts only with its user, so one user never revokes another's.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE auth_sessions (
      id text NOT NULL,
      clerk_user_id text NOT NULL,
      source text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      revoked_at timestamptz,
      revoked_by text,
      PRIMARY KEY (clerk_user_id, id)
    );
    CREATE INDEX idx_auth_sessions_user ON auth_sessions(clerk_user_id, created_at DESC);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS auth_sessions');
}
