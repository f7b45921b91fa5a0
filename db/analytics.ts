/**
 * A user's figures for `GET /v1/users/{id}/analytics`: books by status, words written,
 * pictures, stories and their views, and spend (the books' ledger totals plus the calls
 * that belong to no book).
 */
import type { Knex } from 'knex';

export interface UserAnalytics {
  booksByStatus: Record<string, number>;
  wordsWritten: number;
  images: number;
  stories: number;
  storyViews: number;
  spendUsd: number;
}

export function createAnalyticsRepository(knex: Knex) {
  return {
    async ofUser(profileId: string): Promise<UserAnalytics> {
      const byStatus = await knex('memory_books')
        .where({ user_id: profileId })
        .groupBy('status')
        .select('status', knex.raw('count(*)::int AS n'));
      // Words and images come from the chapters JSON the workflow keeps up to date;
      // spend reads cost.totalUsd per book (the cost ledger's figure), 0 where absent.
      const { rows } = await knex.raw(
        `SELECT
           coalesce(sum((SELECT coalesce(sum(CASE WHEN jsonb_typeof(c->'words') = 'number' THEN (c->>'words')::numeric END), 0)
                           FROM jsonb_array_elements(CASE WHEN jsonb_typeof(b.chapters) = 'array' THEN b.chapters ELSE '[]' END) c)), 0)::bigint AS words,
           coalesce(sum((SELECT count(*) FROM jsonb_array_elements(CASE WHEN jsonb_typeof(b.chapters) = 'array' THEN b.chapters ELSE '[]' END) c
                          WHERE coalesce(c->>'imageKey', '') <> '')), 0)::bigint AS chapter_images,
           count(b.cover_image_key)::bigint AS covers,
           coalesce(sum(CASE WHEN jsonb_typeof(b.cost->'totalUsd') = 'number' THEN (b.cost->>'totalUsd')::numeric END), 0)::float8 AS spend
         FROM memory_books b WHERE b.user_id = ?`,
        [profileId],
      );
      const { rows: storyRows } = await knex.raw(
        `SELECT count(*)::int AS stories, coalesce(sum(view_count), 0)::bigint AS views FROM stories WHERE user_id = ?`,
        [profileId],
      );
      // Calls that belong to no book (stories, prompts, single pictures) are booked to the user.
      const { rows: unbooked } = await knex.raw(
        `SELECT coalesce(sum(cost_usd), 0)::float8 AS spend, count(*) FILTER (WHERE images > 0)::int AS images
         FROM cost_ledger WHERE user_id = ? AND ebook_id IS NULL`,
        [profileId],
      );
      const booksByStatus: Record<string, number> = {};
      for (const r of byStatus as Array<{ status: string; n: number }>) booksByStatus[r.status] = Number(r.n);
      const a = rows[0];
      return {
        booksByStatus,
        wordsWritten: Number(a.words),
        images: Number(a.chapter_images) + Number(a.covers) + Number(unbooked[0].images),
        stories: Number(storyRows[0].stories),
        storyViews: Number(storyRows[0].views),
        spendUsd: Number(a.spend) + Number(unbooked[0].spend),
      };
    },
  };
}
