import type { Knex } from 'knex';

/**
 * Monthly ebook allowances. A reservation is one conditional UPDATE, so
 * concurrent requests of one user can never take more than the limit; a book
 * remembers the period it reserved, so its release happens exactly once.
 */
export function createUsageRepository(knex: Knex) {
  return {
    /** Takes one ebook from the allowance; false when the limit is reached. */
    async reserve(profileId: string, period: string, limit: number | null): Promise<boolean> {
      await knex.raw(
        `INSERT INTO ebook_allowances (profile_id, period) VALUES (?, ?) ON CONFLICT DO NOTHING`,
        [profileId, period],
      );
      const { rows } = await knex.raw(
        `UPDATE ebook_allowances SET used = used + 1, updated_at = now()
          WHERE profile_id = ? AND period = ? AND (?::int IS NULL OR used < ?::int)
          RETURNING used`,
        [profileId, period, limit, limit],
      );
      return rows.length === 1;
    },

    /** Gives back a reservation that no book holds (the book could not be recorded). */
    async unreserve(profileId: string, period: string): Promise<void> {
      await knex.raw(
        `UPDATE ebook_allowances SET used = GREATEST(used - 1, 0), updated_at = now()
          WHERE profile_id = ? AND period = ?`,
        [profileId, period],
      );
    },

    /** Marks the book as holding an allowance of `period`. */
    async attach(ebookId: string, period: string): Promise<void> {
      await knex('memory_books').where({ id: ebookId }).update({ allowance_period: period });
    },

    /**
     * Releases the allowance a failed or cancelled book holds. Clearing the
     * book's period and decrementing happen in one statement, so a retried
     * activity or a second caller releases nothing more.
     */
    async release(ebookId: string): Promise<boolean> {
      const { rows } = await knex.raw(
        // RETURNING gives the new (NULL) period, so the old one comes from a locked read.
        `WITH b AS (
           UPDATE memory_books m SET allowance_period = NULL
             FROM (SELECT id, allowance_period FROM memory_books
                    WHERE id = ? AND allowance_period IS NOT NULL FOR UPDATE) old
            WHERE m.id = old.id
            RETURNING m.user_id, old.allowance_period AS period
         )
         UPDATE ebook_allowances a SET used = GREATEST(a.used - 1, 0), updated_at = now()
           FROM b WHERE a.profile_id = b.user_id AND a.period = b.period
         RETURNING a.used`,
        [ebookId],
      );
      return rows.length === 1;
    },

    /**
     * Charges a reopened book's allowance again (an operator's retry): once, because only
     * a book that holds no period takes one, in the same statement. Past the plan's limit
     * too: the operator decided the book is made.
     */
    async recharge(ebookId: string, period: string): Promise<boolean> {
      const { rows } = await knex.raw(
        `WITH b AS (
           UPDATE memory_books SET allowance_period = ? WHERE id = ? AND allowance_period IS NULL
           RETURNING user_id
         )
         INSERT INTO ebook_allowances (profile_id, period, used)
           SELECT user_id, ?, 1 FROM b
         ON CONFLICT (profile_id, period) DO UPDATE SET used = ebook_allowances.used + 1, updated_at = now()
         RETURNING used`,
        [period, ebookId, period],
      );
      return rows.length === 1;
    },

    async used(profileId: string, period: string): Promise<number> {
      const row = await knex('ebook_allowances').where({ profile_id: profileId, period }).first('used');
      return row ? Number(row.used) : 0;
    },
  };
}

export type UsageRepository = ReturnType<typeof createUsageRepository>;
