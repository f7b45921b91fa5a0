import type { Knex } from 'knex';

/**
 * Two times of a published book that used to be one: `published_at` is when the
 * book was made public (publishing a new file version of a public book moved it
 * until now), and the new `file_version_at` is when its current file version was
 * published. Backfilled from the domain events the publish step records
 * (`ebook_published` per version made public, `ebook_generated` per version made).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE memory_books ADD COLUMN file_version_at timestamptz;

    UPDATE memory_books b SET file_version_at = coalesce(
      (SELECT min(a.created_at) FROM user_activities a
        WHERE a.dedupe_key = 'ebook_generated:' || b.id::text || ':' || b.file_version::text),
      b.published_at, b.updated_at)
    WHERE b.pdf_key IS NOT NULL;

    UPDATE memory_books b SET published_at = first.at
    FROM (SELECT (a.activity_data->>'ebookId') AS ebook_id, min(a.created_at) AS at
            FROM user_activities a WHERE a.activity_type = 'ebook_published' GROUP BY 1) first
    WHERE b.visibility = 'public' AND b.published_at IS NOT NULL
      AND first.ebook_id = b.id::text AND first.at < b.published_at;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE memory_books DROP COLUMN IF EXISTS file_version_at');
}
