/**
 * Book visibility (private to the owner, or public under /shared) and the record
 * of a book's whole-book revisions, kept on the book row.
 */
import type { Knex } from 'knex';
import { toEbook, type Ebook, type RecordActivityInput, type Visibility } from './rows';
export type { Visibility };
import type { RevisionState } from '../workflows/revision-shared';

export const VISIBILITIES: readonly Visibility[] = ['private', 'public'];

/**
 * The `ebook_published` domain event of one version of a book: keyed by book and
 * version, so publishing (again) the same version records it once.
 */
export function publishedActivity(book: Pick<Ebook, 'id' | 'userId' | 'fileVersion'>): RecordActivityInput {
  return {
    userId: book.userId,
    type: 'ebook_published',
    data: { ebookId: book.id, version: book.fileVersion },
    dedupeKey: `ebook_published:${book.id}:${book.fileVersion}`,
  };
}

/** Sets every chapter's status (a revision starts them over, and ends with them done). */
const chapterStatusSql = `coalesce((SELECT jsonb_agg(c || jsonb_build_object('status', ?::text) ORDER BY ord)
  FROM jsonb_array_elements(chapters) WITH ORDINALITY AS t(c, ord)), '[]'::jsonb)`;

export function createSharingRepository(knex: Knex) {
  return {
    /**
     * Makes a book public or private. Publishing stamps `published_at` (kept when it
     * already was public); unpublishing clears it. Undefined when there is no such book.
     */
    async setVisibility(id: string, visibility: Visibility): Promise<Ebook | undefined> {
      const { rows } = await knex.raw(
        `UPDATE memory_books SET
           published_at = CASE WHEN ?::text = 'private' THEN NULL
                               WHEN visibility = 'public' THEN coalesce(published_at, now())
                               ELSE now() END,
           visibility = ?, updated_at = now()
         WHERE id = ? RETURNING *`,
        [visibility, visibility, id],
      );
      return rows[0] ? toEbook(rows[0]) : undefined;
    },

    /**
     * Records the revision the API just started. When that run already reported (its
     * first activity may be quicker than the API's write), its reports win and the
     * claim only fills in what they leave out (when it started).
     */
    async claimRevision(id: string, state: RevisionState): Promise<void> {
      const json = JSON.stringify(state);
      await knex.raw(
        `UPDATE memory_books SET
           revision = CASE WHEN revision->>'runId' = ? THEN ?::jsonb || revision ELSE ?::jsonb END,
           updated_at = now()
         WHERE id = ?`,
        [state.runId, json, json, id],
      );
    },

    /**
     * Merges a revision's progress into the row: the same run's record is updated,
     * another run's is replaced. `chapterStatus` sets every chapter's status too.
     */
    async reportRevision(id: string, state: RevisionState, chapterStatus?: string): Promise<boolean> {
      const json = JSON.stringify(state);
      const result = await knex.raw(
        `UPDATE memory_books SET
           revision = CASE WHEN revision->>'runId' = ? THEN revision || ?::jsonb ELSE ?::jsonb END,
           ${chapterStatus ? `chapters = ${chapterStatusSql},` : ''}
           updated_at = now()
         WHERE id = ?`,
        [state.runId, json, json, ...(chapterStatus ? [chapterStatus] : []), id],
      );
      return (result.rowCount ?? 0) > 0;
    },
  };
}

export type SharingRepository = ReturnType<typeof createSharingRepository>;
