import type { Knex } from 'knex';
import { createUsageRepository } from './usage';
import { createSharingRepository, type Visibility } from './sharing';
import type { RevisionState } from '../workflows/revision-shared';

import type { SubscriptionTier } from '../core/tiers';
export type { SubscriptionTier };
export type BookStatus = 'draft' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A book in one of these stays there unless an update says `force: true`. */
export const TERMINAL_BOOK_STATUSES: readonly BookStatus[] = ['completed', 'failed', 'cancelled'];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = Record<string, unknown>;

export interface Profile {
  id: string;
  clerkUserId: string;
  email: string | null;
  name: string | null;
  avatarUrl: string | null;
  role: string;
  subscriptionTier: SubscriptionTier;
  subscriptionExpiresAt: string | null;
  preferences: JsonObject;
  usageStats: JsonObject;
  createdAt: string;
  updatedAt: string;
}

export interface ChapterMeta {
  /** 1-based position in the book. */
  index: number;
  title: string;
  summary?: string;
  status: string;
  words?: number;
  textKey?: string;
  imageKey?: string;
  imageAlt?: string;
  textProvider?: string;
  imageProvider?: string;
}

/** Why a book failed: `type` names the failure (workflows/shared ErrorTypes). */
export interface EbookError {
  type?: string;
  message: string;
  details?: unknown;
}

export interface Ebook {
  id: string;
  /** The owner's profile id. */
  userId: string;
  originalStoryId: string | null;
  workflowId: string | null;
  title: string;
  description: string | null;
  prompt: string | null;
  status: BookStatus;
  stage: string | null;
  /** 0..1 */
  progress: number;
  error: EbookError | null;
  chapters: ChapterMeta[];
  metadata: JsonObject;
  generationSettings: unknown;
  stylePreferences: unknown;
  images: unknown[];
  analytics: JsonObject;
  providers: JsonObject;
  cost: JsonObject;
  pdfKey: string | null;
  epubKey: string | null;
  coverImageKey: string | null;
  pdfUrl: string | null;
  epubUrl: string | null;
  coverImageUrl: string | null;
  fileVersion: number;
  publishedAt: string | null;
  /** `public` books are readable by anyone under /shared once completed. */
  visibility: Visibility;
  /** The latest whole-book revision (running or finished), if any. */
  revision: RevisionState | null;
  createdAt: string;
  updatedAt: string;
}

export interface UserActivity {
  id: string;
  userId: string;
  type: string;
  data: unknown;
  dedupeKey: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  createdAt: string;
}

export interface EnsureProfileInput {
  clerkUserId: string;
  email?: string | null;
  name?: string | null;
  role?: string;
}

export interface CreateEbookInput {
  id: string;
  userId: string;
  workflowId: string;
  prompt: string;
  /** A placeholder until the outline names the book. */
  title: string;
  generationSettings?: unknown;
  stylePreferences?: unknown;
  /** Default private; a public book is shared as soon as it is completed. */
  visibility?: Visibility;
  /** The story the book is made from. */
  originalStoryId?: string;
}

export interface StatusUpdate {
  status?: BookStatus;
  stage?: string;
  progress?: number;
  error?: EbookError | null;
  /** Allows leaving a terminal status (an operator's retry, for instance). */
  force?: boolean;
}

export interface OutlineInput {
  title: string;
  description?: string | null;
  chapters: ChapterMeta[];
}

export interface PublishInput {
  pdfKey: string;
  epubKey: string;
  coverImageKey: string | null;
  pdfUrl: string;
  epubUrl: string;
  coverImageUrl: string | null;
  fileVersion: number;
  images?: unknown[];
  /** Merged into what the row already has. */
  providers?: JsonObject;
  /** Merged into what the row already has. */
  metadata?: JsonObject;
}

export interface ListOptions {
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface EbookPage {
  items: Ebook[];
  /** Absent on the last page. */
  nextCursor?: string;
}

export interface RecordActivityInput {
  userId: string;
  type: string;
  data?: unknown;
  /** Same key, one row: what makes a retried workflow step record its event once. */
  dedupeKey?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
}

type Row = Record<string, any>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** timestamptz as text under the default DateStyle (ISO). */
const PG_TIMESTAMPTZ_RE = /^\d{4,}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;
const TITLE_MAX = 255; // varchar(255), as in the original schema
const TERMINAL_SQL = `('completed', 'failed', 'cancelled')`;
const PG_UNIQUE_VIOLATION = '23505';

/**
 * jsonb parameters are sent as JSON text (pg would turn a JS array into a
 * PostgreSQL array); null and undefined become SQL NULL, not JSON null.
 */
function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function iso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function clip(title: string): string {
  return title.length > TITLE_MAX ? title.slice(0, TITLE_MAX) : title;
}

function toProfile(r: Row): Profile {
  return {
    id: r.id,
    clerkUserId: r.clerk_user_id,
    email: r.email,
    name: r.name,
    avatarUrl: r.avatar_url,
    role: r.role,
    subscriptionTier: r.subscription_tier,
    subscriptionExpiresAt: iso(r.subscription_expires_at),
    preferences: r.preferences ?? {},
    usageStats: r.usage_stats ?? {},
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

export function toEbook(r: Row): Ebook {
  return {
    id: r.id,
    userId: r.user_id,
    originalStoryId: r.original_story_id,
    workflowId: r.workflow_id,
    title: r.title,
    description: r.description,
    prompt: r.prompt,
    status: r.status,
    stage: r.stage,
    progress: Number(r.progress),
    error: r.error,
    chapters: r.chapters ?? [],
    metadata: r.metadata ?? {},
    generationSettings: r.generation_settings,
    stylePreferences: r.style_preferences,
    images: r.images ?? [],
    analytics: r.analytics ?? {},
    providers: r.providers ?? {},
    cost: r.cost ?? {},
    pdfKey: r.pdf_key,
    epubKey: r.epub_key,
    coverImageKey: r.cover_image_key,
    pdfUrl: r.pdf_url,
    epubUrl: r.epub_url,
    coverImageUrl: r.cover_image_url,
    fileVersion: r.file_version,
    publishedAt: iso(r.published_at),
    visibility: r.visibility ?? 'private',
    revision: r.revision ?? null,
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

function toActivity(r: Row): UserActivity {
  return {
    id: r.id,
    userId: r.user_id,
    type: r.activity_type,
    data: r.activity_data,
    dedupeKey: r.dedupe_key,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    createdAt: iso(r.created_at)!,
  };
}

// Cursor = the last row's exact created_at (as PostgreSQL text, microseconds
// included: a JS Date would round them off and skip rows) and its id.
function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') {
      if (PG_TIMESTAMPTZ_RE.test(v[0]) && UUID_RE.test(v[1])) return [v[0], v[1]];
    }
  } catch {
    // fall through: a malformed cursor is the caller's error
  }
  return undefined;
}

export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

/**
 * One page of a user's rows of `table`, newest first, keyset-paginated on
 * (created_at, id). Throws InvalidCursorError for a cursor it did not make.
 */
export async function keysetPage<T>(
  knex: Knex,
  table: string,
  profileId: string,
  options: ListOptions,
  toItem: (row: Row) => T,
): Promise<{ items: T[]; nextCursor?: string }> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 20), 1), 100);
  if (!UUID_RE.test(profileId)) return { items: [] };
  const q = knex(table)
    .select('*', knex.raw('created_at::text AS cursor_created_at'))
    .where({ user_id: profileId })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit + 1);
  if (options.cursor !== undefined) {
    const c = decodeCursor(options.cursor);
    if (!c) throw new InvalidCursorError();
    q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', c);
  }
  const rows = await q;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toItem),
    nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_created_at, last.id) : undefined,
  };
}

export function createRepositories(knex: Knex) {
  const profiles = {
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
      const q = knex('memory_books').where({ id }).update(set);
      if (!update.force) q.whereRaw(`status NOT IN ${TERMINAL_SQL}`);
      return (await q) > 0;
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
     * Marks the book completed with its files (a public book's `published_at`
     * moves to now: this version is the one shared), in one statement. Applies to a
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
           published_at = CASE WHEN visibility = 'public' THEN now() ELSE published_at END, updated_at = now()
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
    async mergeCost(id: string, cost: JsonObject): Promise<boolean> {
      const result = await knex.raw(
        `UPDATE memory_books SET cost = cost || ?::jsonb, updated_at = now() WHERE id = ?`,
        [json(cost), id],
      );
      return (result.rowCount ?? 0) > 0;
    },
  };

  const activities = {
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

  return { profiles, ebooks, activities, usage: createUsageRepository(knex), sharing: createSharingRepository(knex) };
}

export type Repositories = ReturnType<typeof createRepositories>;

/** The print-ready PDF's stored reference (premium plans), kept in the book's metadata at publish. */
export function printFile(book: { metadata?: Record<string, unknown> }): { key: string } | undefined {
  const files = book.metadata?.files as { print?: { key?: unknown } } | undefined;
  return typeof files?.print?.key === 'string' ? { key: files.print.key } : undefined;
}
