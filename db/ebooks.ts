/** The memory_books rows: a book's status, outline, chapters, files and cost. */
import type { Knex } from 'knex';
import {
  clip,
  json,
  keysetPage,
  TERMINAL_SQL,
  toEbook,
  UUID_RE,
  type ChapterMeta,
  type CreateEbookInput,
  type Ebook,
  type EbookPage,
  type JsonObject,
  type ListOptions,
  type OutlineInput,
  type PublishInput,
  type Row,
  type StatusUpdate,
} from './rows';

export function createEbookRepository(knex: Knex) {
  const ebooks = {
    /**
     * Records a new book, queued. Idempotent on `id` so a retried call returns
     * the same row; the same id for a different owner or workflow is an error.
     */
    async create(input: CreateEbookInput): Promise<Ebook> {
      const inserted = await knex.raw(
        `INSERT INTO memory_books
           (id, user_id, workflow_id, prompt, title, generation_settings, style_preferences, original_story_id, status, stage, visibility)
         VALUES (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, 'queued', 'queued', ?)
         ON CONFLICT (id) DO NOTHING
         RETURNING *`,
        [
          input.id,
          input.userId,
          input.workflowId,
          input.prompt,
          clip(input.title),
          json(input.generationSettings),
          json(input.stylePreferences),
          input.originalStoryId ?? null,
          input.visibility ?? 'private',
        ],
      );
      if (inserted.rows[0]) return toEbook(inserted.rows[0]);
      const existing = await ebooks.get(input.id);
      if (!existing || existing.userId !== input.userId || existing.workflowId !== input.workflowId) {
        throw new Error(`ebook ${input.id} already exists with another owner or workflow`);
      }
      return existing;
    },

    async get(id: string): Promise<Ebook | undefined> {
      if (!UUID_RE.test(id)) return undefined; // not a uuid: PostgreSQL would raise, the answer is "no such book"
      const row = await knex('memory_books').where({ id }).first();
      return row ? toEbook(row) : undefined;
    },

    /** The book when `profileId` owns it; another user's book is indistinguishable from none. */
    async getForUser(id: string, profileId: string): Promise<Ebook | undefined> {
      if (!UUID_RE.test(id) || !UUID_RE.test(profileId)) return undefined;
      const row = await knex('memory_books').where({ id, user_id: profileId }).first();
      return row ? toEbook(row) : undefined;
    },

    /** The book if the user signed in as `clerkUserId` owns it: one query, the ownership check in it. */
    async getForClerkUser(id: string, clerkUserId: string): Promise<Ebook | undefined> {
      if (!UUID_RE.test(id)) return undefined;
      const row = await knex('memory_books as b')
        .join('profiles as p', 'p.id', 'b.user_id')
        .where({ 'b.id': id, 'p.clerk_user_id': clerkUserId })
        .first('b.*');
      return row ? toEbook(row) : undefined;
    },

    /** Newest first, keyset-paginated. Throws InvalidCursorError for a cursor it did not make. */
    async listForUser(profileId: string, options: ListOptions = {}): Promise<EbookPage> {
      return keysetPage(knex, 'memory_books', profileId, options, toEbook);
    },

    /**
     * Moves a book's status/stage/progress. A book that reached a terminal status
     * stays there (a late progress report must not revive a cancelled book)
     * unless `force` is set. Returns whether the row was updated.
     */
    async updateStatus(id: string, update: StatusUpdate): Promise<boolean> {
      const set: Row = { updated_at: knex.fn.now() };
      if (update.status !== undefined) set.status = update.status;
      if (update.stage !== undefined) set.stage = update.stage;
      if (update.progress !== undefined) set.progress = Math.min(Math.max(update.progress, 0), 1);
      if (update.error !== undefined) set.error = json(update.error);
      if (update.closedRunId !== undefined) set.closed_run_id = update.closedRunId;
      const q = knex('memory_books').where({ id }).update(set);
      if (!update.force) q.whereRaw(`status NOT IN ${TERMINAL_SQL}`);
      return (await q) > 0;
    },

    /**
     * Takes a failed book back to running for `runId`, a later run of its own workflow (an
     * operator's reset): only a book that a different run ended, so an activity of the run
     * that failed it, still stopping, cannot. True when this call reopened it.
     */
    async reopen(id: string, workflowId: string, runId: string, stage: string): Promise<boolean> {
      const n = await knex('memory_books')
        .where({ id, workflow_id: workflowId, status: 'failed' })
        .whereNotNull('closed_run_id')
        .whereNot('closed_run_id', runId)
        // A wait the failed run left behind is not this run's.
        .update({ status: 'running', stage, error: null, closed_run_id: null, waiting_for: null, updated_at: knex.fn.now() });
      return n > 0;
    },

    async saveOutline(id: string, outline: OutlineInput): Promise<boolean> {
      const n = await knex('memory_books')
        .where({ id })
        .update({
          title: clip(outline.title),
          description: outline.description ?? null,
          chapters: json(outline.chapters),
          updated_at: knex.fn.now(),
        });
      return n > 0;
    },

    /**
     * What a running step waits for (`{dependency, message, step}`; `since` is kept from the
     * first report of the same dependency), or null once it answers again. Never touches a
     * row with nothing to clear.
     */
    async setWaitingFor(id: string, wait: { dependency: string; message: string; step?: string } | null): Promise<boolean> {
      if (wait === null) {
        const n = await knex('memory_books').where({ id }).whereNotNull('waiting_for').update({ waiting_for: null, updated_at: knex.fn.now() });
        return n > 0;
      }
      const n = await knex('memory_books')
        .where({ id })
        .update({
          waiting_for: knex.raw(
            `?::jsonb || jsonb_build_object('since', CASE WHEN waiting_for->>'dependency' = ? THEN waiting_for->'since' ELSE to_jsonb(now()) END)`,
            [JSON.stringify(wait), wait.dependency],
          ),
          updated_at: knex.fn.now(),
        });
      return n > 0;
    },

    /** The outline under review beside the row (null once it is answered for good). */
    async setOutlineReview(id: string, review: JsonObject | null): Promise<boolean> {
      const n = await knex('memory_books')
        .where({ id })
        .update({ outline_review: review === null ? null : json(review), updated_at: knex.fn.now() });
      return n > 0;
    },

    /**
     * Merges `patch` into chapter `index` (1-based). The merge happens inside one
     * UPDATE, so PostgreSQL re-reads the row under the row lock and concurrent
     * updates of different chapters all survive. Returns false when the book or
     * the chapter does not exist.
     */
    async setChapter(id: string, index: number, patch: Partial<ChapterMeta>): Promise<boolean> {
      if (!Number.isInteger(index) || index < 1) throw new RangeError(`chapter index must be >= 1, got ${index}`);
      const position = index - 1;
      const result = await knex.raw(
        `UPDATE memory_books
         SET chapters = jsonb_set(chapters, ARRAY[?::text], (chapters -> ?::int) || ?::jsonb),
             updated_at = now()
         WHERE id = ? AND jsonb_typeof(chapters -> ?::int) = 'object'`,
        [position, position, json(patch), id, position],
      );
      return (result.rowCount ?? 0) > 0;
    },

    /**
     * Marks the book completed with its files, stamped `file_version_at`, in one
     * statement. A book made public before its first version (created public) is
     * published now; one already public keeps its `published_at`. Applies to a
     * book that is running or already completed (a retried publish step
     * rewrites the same values); a failed or cancelled book is left alone.
     */
    async publish(id: string, input: PublishInput): Promise<boolean> {
      const result = await knex.raw(
        `UPDATE memory_books SET
           pdf_key = ?, epub_key = ?, cover_image_key = ?,
           pdf_url = ?, epub_url = ?, cover_image_url = ?,
           file_version = ?,
           images = coalesce(?::jsonb, images),
           providers = providers || coalesce(?::jsonb, '{}'),
           metadata = metadata || coalesce(?::jsonb, '{}'),
           status = 'completed', stage = 'completed', progress = 1, error = NULL,
           file_version_at = now(),
           published_at = CASE WHEN visibility = 'public' THEN coalesce(published_at, now()) ELSE published_at END, updated_at = now()
         WHERE id = ? AND status NOT IN ('failed', 'cancelled')`,
        [
          input.pdfKey,
          input.epubKey,
          input.coverImageKey,
          input.pdfUrl,
          input.epubUrl,
          input.coverImageUrl,
          input.fileVersion,
          json(input.images),
          json(input.providers),
          json(input.metadata),
          id,
        ],
      );
      return (result.rowCount ?? 0) > 0;
    },

    /** Merges into the `cost` object (per-provider spend, tokens, images). */
    /**
     * What a person may change about a finished book: its title, description and pen name
     * (kept as `metadata.author`; null removes it). Undefined leaves a field as it is.
     */
    async updateDetails(id: string, patch: { title?: string; description?: string | null; penName?: string | null }): Promise<boolean> {
      const set: Row = { updated_at: knex.fn.now() };
      if (patch.title !== undefined) set.title = clip(patch.title);
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.penName !== undefined) {
        set.metadata =
          patch.penName === null
            ? knex.raw(`coalesce(metadata, '{}'::jsonb) - 'author'`)
            : knex.raw(`coalesce(metadata, '{}'::jsonb) || jsonb_build_object('author', ?::text)`, [patch.penName]);
      }
      return (await knex('memory_books').where({ id }).update(set)) > 0;
    },

    /** Merges `patch` into the `metadata` object, in one statement. */
    async mergeMetadata(id: string, patch: JsonObject): Promise<boolean> {
      const result = await knex.raw(
        `UPDATE memory_books SET metadata = coalesce(metadata, '{}'::jsonb) || ?::jsonb, updated_at = now() WHERE id = ?`,
        [json(patch), id],
      );
      return (result.rowCount ?? 0) > 0;
    },

    async mergeCost(id: string, cost: JsonObject): Promise<boolean> {
      const result = await knex.raw(
        `UPDATE memory_books SET cost = cost || ?::jsonb, updated_at = now() WHERE id = ?`,
        [json(cost), id],
      );
      return (result.rowCount ?? 0) > 0;
    },
  };
  return ebooks;
}
