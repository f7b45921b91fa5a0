/** user_activities: what a user did, recorded once per dedupe key. */
import type { Knex } from 'knex';
import { json, toActivity, type RecordActivityInput, type UserActivity } from './rows';

export function createActivityRepository(knex: Knex) {
  return {
    /** Inserts the activity unless one with the same dedupeKey exists; returns whether it inserted. */
    async record(input: RecordActivityInput): Promise<boolean> {
      const result = await knex.raw(
        `INSERT INTO user_activities (user_id, activity_type, activity_data, dedupe_key, ip_address, user_agent)
         VALUES (?, ?, ?::jsonb, ?, ?::inet, ?)
         ON CONFLICT (dedupe_key) DO NOTHING`,
        [
          input.userId,
          input.type,
          json(input.data),
          input.dedupeKey ?? null,
          input.ipAddress ?? null,
          input.userAgent ?? null,
        ],
      );
      return (result.rowCount ?? 0) > 0;
    },

    async listForUser(profileId: string, limit = 50): Promise<UserActivity[]> {
      const rows = await knex('user_activities')
        .where({ user_id: profileId })
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(Math.min(Math.max(limit, 1), 500));
      return rows.map(toActivity);
    },
  };
}
