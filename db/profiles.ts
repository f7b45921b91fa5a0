/** Profiles: one row a Clerk user, found or created on their first request. */
import type { Knex } from 'knex';
import { PG_UNIQUE_VIOLATION, toProfile, type EnsureProfileInput, type JsonObject, type Profile, type Row, type SubscriptionTier } from './rows';

export function createProfileRepository(knex: Knex) {
  return {
    /**
     * Finds or creates the profile of a Clerk user. One statement, so concurrent
     * first requests of a new user both get the same row and neither fails.
     */
    async ensure(input: EnsureProfileInput): Promise<Profile> {
      const upsert = (email: string | null) =>
        knex.raw(
          `INSERT INTO profiles (clerk_user_id, email, name, role)
           VALUES (?, ?, ?, coalesce(?, 'user'))
           ON CONFLICT (clerk_user_id) DO UPDATE SET
             role = coalesce(?, profiles.role),
             email = coalesce(excluded.email, profiles.email),
             name = coalesce(excluded.name, profiles.name),
             updated_at = now()
           RETURNING *`,
          [input.clerkUserId, email, input.name ?? null, input.role ?? null, input.role ?? null],
        );
      let result;
      try {
        result = await upsert(input.email ?? null);
      } catch (err) {
        // The email already belongs to another Clerk id (an account re-created in
        // Clerk, say): the identity matters more than the email, so go without it.
        if ((err as { code?: string }).code !== PG_UNIQUE_VIOLATION || !input.email) throw err;
        result = await upsert(null);
      }
      return toProfile(result.rows[0]);
    },

    /** Creates or refreshes a profile from the identity provider's record of the user. */
    async upsertIdentity(input: {
      clerkUserId: string;
      email: string | null;
      name: string | null;
      avatarUrl: string | null;
    }): Promise<{ profile: Profile; created: boolean }> {
      const { rows } = await knex.raw(
        `INSERT INTO profiles (clerk_user_id, email, name, avatar_url)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (clerk_user_id) DO UPDATE
           SET email = EXCLUDED.email, name = EXCLUDED.name, avatar_url = EXCLUDED.avatar_url, updated_at = now()
         RETURNING *, (xmax = 0) AS inserted`,
        [input.clerkUserId, input.email, input.name, input.avatarUrl],
      );
      return { profile: toProfile(rows[0]), created: Boolean(rows[0].inserted) };
    },

    /** Deletes a user and, by cascade, everything they own. */
    async deleteByClerkId(clerkUserId: string): Promise<boolean> {
      return (await knex('profiles').where({ clerk_user_id: clerkUserId }).delete()) > 0;
    },

    /** Changes a user's plan (admin or billing only); undefined when there is no such user. */
    async setSubscription(
      clerkUserId: string,
      tier: SubscriptionTier,
      expiresAt: string | null = null,
    ): Promise<Profile | undefined> {
      const [row] = await knex('profiles')
        .where({ clerk_user_id: clerkUserId })
        .update({ subscription_tier: tier, subscription_expires_at: expiresAt, updated_at: knex.fn.now() })
        .returning('*');
      return row ? toProfile(row) : undefined;
    },

    async getById(id: string): Promise<Profile | undefined> {
      const row = await knex('profiles').where({ id }).first();
      return row ? toProfile(row) : undefined;
    },

    /** Records a user's role (an admin's change); undefined when there is no such user. */
    async setRole(clerkUserId: string, role: 'user' | 'admin'): Promise<Profile | undefined> {
      const [row] = await knex('profiles')
        .where({ clerk_user_id: clerkUserId })
        .update({ role, updated_at: knex.fn.now() })
        .returning('*');
      return row ? toProfile(row) : undefined;
    },

    async getByClerkId(clerkUserId: string): Promise<Profile | undefined> {
      const row = await knex('profiles').where({ clerk_user_id: clerkUserId }).first();
      return row ? toProfile(row) : undefined;
    },

    /** Changes what a user may edit about themselves (name, avatar); undefined leaves a field as is. */
    async updateDetails(
      profileId: string,
      patch: { name?: string | null; avatarUrl?: string | null },
    ): Promise<Profile | undefined> {
      const set: Row = { updated_at: knex.fn.now() };
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.avatarUrl !== undefined) set.avatar_url = patch.avatarUrl;
      const [row] = await knex('profiles').where({ id: profileId }).update(set).returning('*');
      return row ? toProfile(row) : undefined;
    },

    /** Merges top-level keys into `preferences` in one statement (a null value removes the key). */
    async mergePreferences(profileId: string, patch: JsonObject): Promise<Profile | undefined> {
      const removed = Object.keys(patch).filter((k) => patch[k] === null);
      const kept = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null));
      const { rows } = await knex.raw(
        `UPDATE profiles SET preferences = (preferences || ?::jsonb) - ?::text[], updated_at = now()
         WHERE id = ? RETURNING *`,
        [JSON.stringify(kept), removed, profileId],
      );
      return rows[0] ? toProfile(rows[0]) : undefined;
    },
  };
}
