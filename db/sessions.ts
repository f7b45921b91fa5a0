/**
 * auth_sessions: the sessions the engine issued itself (local sign-in links,
 * `npm run token`, `POST /v1/auth/sessions/create`) and every revoked session,
 * whoever issued it. The API refuses a token whose `sid` is revoked here.
 */
import type { Knex } from 'knex';
import type { Row } from './rows';

export type SessionSource = 'signin-link' | 'token-cli' | 'api' | 'clerk';

export interface AuthSession {
  id: string;
  clerkUserId: string;
  source: SessionSource;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

const iso = (v: unknown): string | null => (v == null ? null : new Date(v as string).toISOString());

function toSession(r: Row): AuthSession {
  return {
    id: r.id,
    clerkUserId: r.clerk_user_id,
    source: r.source,
    createdAt: iso(r.created_at)!,
    expiresAt: iso(r.expires_at),
    revokedAt: iso(r.revoked_at),
    revokedBy: r.revoked_by ?? null,
  };
}

export function createSessionRepository(knex: Knex) {
  return {
    /** Records an issued session; recording the same id again changes nothing. */
    async record(input: { id: string; clerkUserId: string; source: SessionSource; expiresAt?: Date | string | null }): Promise<void> {
      await knex('auth_sessions')
        .insert({
          id: input.id,
          clerk_user_id: input.clerkUserId,
          source: input.source,
          expires_at: input.expiresAt ?? null,
        })
        .onConflict(['clerk_user_id', 'id'])
        .ignore();
    },

    async get(id: string, clerkUserId: string): Promise<AuthSession | undefined> {
      const row = await knex('auth_sessions').where({ id, clerk_user_id: clerkUserId }).first();
      return row ? toSession(row) : undefined;
    },

    /** Whether this user's session was revoked (an id never recorded, or another user's, is not). */
    async isRevoked(id: string, clerkUserId: string): Promise<boolean> {
      const row = await knex('auth_sessions').where({ id, clerk_user_id: clerkUserId }).whereNotNull('revoked_at').first('id');
      return Boolean(row);
    },

    /** A user's sessions that are neither revoked nor expired, newest first. */
    async listActive(clerkUserId: string): Promise<AuthSession[]> {
      const rows = await knex('auth_sessions')
        .where({ clerk_user_id: clerkUserId })
        .whereNull('revoked_at')
        .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', knex.fn.now()))
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(500);
      return rows.map(toSession);
    },

    /**
     * Revokes one session of `clerkUserId`. A session the engine never issued (one
     * of Clerk's) is recorded as revoked, so its tokens are refused too. Returns
     * false when it was revoked already.
     */
    async revoke(id: string, clerkUserId: string, by: string, source: SessionSource = 'clerk'): Promise<boolean> {
      const { rows } = await knex.raw(
        `INSERT INTO auth_sessions (id, clerk_user_id, source, revoked_at, revoked_by)
         VALUES (?, ?, ?, now(), ?)
         ON CONFLICT (clerk_user_id, id) DO UPDATE SET revoked_at = now(), revoked_by = excluded.revoked_by
           WHERE auth_sessions.revoked_at IS NULL
         RETURNING id`,
        [id, clerkUserId, source, by],
      );
      return rows.length > 0;
    },

    /** Revokes every live session of a user ("sign out everywhere"); the ids revoked. */
    async revokeAll(clerkUserId: string, by: string): Promise<string[]> {
      const rows = await knex('auth_sessions')
        .where({ clerk_user_id: clerkUserId })
        .whereNull('revoked_at')
        .update({ revoked_at: knex.fn.now(), revoked_by: by })
        .returning('id');
      return rows.map((r: { id: string }) => r.id);
    },
  };
}
