import type { Knex } from 'knex';
import { keysetPage, type JsonObject } from './rows';

export type StoryStatus = 'draft' | 'generating' | 'completed' | 'failed' | 'published' | 'archived';

export interface Story {
  id: string;
  /** The owner's profile id. */
  userId: string;
  title: string;
  content: string;
  promptData: unknown;
  generationSettings: unknown;
  metadata: JsonObject;
  status: StoryStatus;
  viewCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface CreateStoryInput {
  userId: string;
  title: string;
  content: string;
  promptData?: unknown;
  metadata?: JsonObject;
}

export interface StoryPatch {
  title?: string;
  content?: string;
  status?: StoryStatus;
  /** Merged into what the row already has. */
  metadata?: JsonObject;
}

export interface StoryPage {
  items: Story[];
  nextCursor?: string;
}

export interface StoryAnalytics {
  viewCount: number;
  uniqueViewers: number;
  words: number;
  ebooks: Array<{ id: string; title: string; status: string }>;
}

type Row = Record<string, any>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A viewer's repeat views within this window count once. */
export const VIEW_DEDUPE_MINUTES = 30;

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const iso = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString();

function toStory(r: Row): Story {
  return {
    id: r.id,
    userId: r.user_id,
    title: r.title,
    content: r.content,
    promptData: r.prompt_data ?? null,
    generationSettings: r.generation_settings ?? null,
    metadata: r.metadata ?? {},
    status: r.status,
    viewCount: Number(r.view_count),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/** Words as a reader counts them: runs of non-space characters. */
export function countWords(text: string): number {
  const m = text.match(/\S+/g);
  return m ? m.length : 0;
}

export function createStoryRepository(knex: Knex) {
  const stories = {
    async create(input: CreateStoryInput): Promise<Story> {
      const [row] = await knex('stories')
        .insert({
          user_id: input.userId,
          title: input.title,
          content: input.content,
          prompt_data: json(input.promptData),
          metadata: json(input.metadata ?? {}),
        })
        .returning('*');
      return toStory(row);
    },

    async get(id: string): Promise<Story | undefined> {
      if (!UUID_RE.test(id)) return undefined; // not a uuid: "no such story", not a SQL error
      const row = await knex('stories').where({ id }).first();
      return row ? toStory(row) : undefined;
    },

    /** Applies the patch; metadata merges. Undefined when the story is gone. */
    async update(id: string, patch: StoryPatch): Promise<Story | undefined> {
      const set: Row = { updated_at: knex.fn.now() };
      if (patch.title !== undefined) set.title = patch.title;
      if (patch.content !== undefined) set.content = patch.content;
      if (patch.status !== undefined) set.status = patch.status;
      if (patch.metadata !== undefined) set.metadata = knex.raw(`metadata || ?::jsonb`, [json(patch.metadata)]);
      const [row] = await knex('stories').where({ id }).update(set).returning('*');
      return row ? toStory(row) : undefined;
    },

    /** Books made from the story keep existing; their link is cleared by the foreign key (ON DELETE SET NULL). */
    async delete(id: string): Promise<boolean> {
      return (await knex('stories').where({ id }).delete()) > 0;
    },

    /** Newest first, keyset-paginated. Throws InvalidCursorError for a cursor it did not make. */
    async listForUser(profileId: string, options: { limit?: number; cursor?: string } = {}): Promise<StoryPage> {
      return keysetPage(knex, 'stories', profileId, options, toStory);
    },

    /**
     * Counts a view unless this viewer's last counted one is under 30 minutes old.
     * One statement: the upsert only touches the row when the window has passed,
     * and the counter moves only when it did, so concurrent repeats count once.
     */
    async recordView(storyId: string, viewerId: string): Promise<{ counted: boolean; viewCount: number }> {
      const { rows } = await knex.raw(
        `WITH v AS (
           INSERT INTO story_views (story_id, viewer_id) VALUES (?, ?)
           ON CONFLICT (story_id, viewer_id) DO UPDATE SET viewed_at = now()
             WHERE story_views.viewed_at <= now() - make_interval(mins => ?)
           RETURNING 1
         ), bumped AS (
           UPDATE stories SET view_count = view_count + 1
            WHERE id = ? AND EXISTS (SELECT 1 FROM v)
           RETURNING view_count
         )
         SELECT (SELECT view_count FROM bumped) AS bumped,
                (SELECT view_count FROM stories WHERE id = ?) AS current`,
        [storyId, viewerId, VIEW_DEDUPE_MINUTES, storyId, storyId],
      );
      const r = rows[0];
      // The outer SELECT sees the snapshot from before the CTE's update, hence `bumped` first.
      return r.bumped !== null ? { counted: true, viewCount: Number(r.bumped) } : { counted: false, viewCount: Number(r.current ?? 0) };
    },

    async analytics(story: Story): Promise<StoryAnalytics> {
      const [{ n }] = await knex('story_views').where({ story_id: story.id }).count<{ n: string }[]>({ n: '*' });
      const books = await knex('memory_books')
        .where({ original_story_id: story.id })
        .orderBy('created_at', 'desc')
        .select('id', 'title', 'status');
      return {
        viewCount: story.viewCount,
        uniqueViewers: Number(n),
        words: countWords(story.content),
        ebooks: books.map((b: Row) => ({ id: b.id, title: b.title, status: b.status })),
      };
    },
  };
  return stories;
}

export type StoryRepository = ReturnType<typeof createStoryRepository>;
