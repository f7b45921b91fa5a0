/**
 * The rows of the engine's tables as plain objects: their types, the mappers from
 * PostgreSQL rows, and the helpers every repository shares (JSON parameters, keyset pages).
 */
import type { Knex } from 'knex';
import type { RevisionState } from '../workflows/revision-shared';

import type { SubscriptionTier } from '../core/tiers';
export type { SubscriptionTier };
/** Whether a book can be read without signing in. */
export type Visibility = 'private' | 'public';
export type BookStatus = 'draft' | 'queued' | 'running' | 'awaiting_review' | 'completed' | 'failed' | 'cancelled';

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
  /** When the current file version was published (null before the first). */
  fileVersionAt: string | null;
  /** When the book was made public (not moved by later file versions); null while private. */
  publishedAt: string | null;
  /** `public` books are readable by anyone under /shared once completed. */
  visibility: Visibility;
  /** The latest whole-book revision (running or finished), if any. */
  revision: RevisionState | null;
  /** The workflow run that recorded the book's end (failed or cancelled); a reset run may reopen it. */
  closedRunId: string | null;
  /** The outline its owner is asked to review, while the book waits for them (else null). */
  outlineReview: JsonObject | null;
  /** What a running step waits for (file storage unreachable), with `since`; null when nothing. */
  waitingFor: { dependency: string; message: string; step?: string; since: string } | null;
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
  /** With a terminal status: the workflow run that recorded it. */
  closedRunId?: string;
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

export type Row = Record<string, any>;

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** timestamptz as text under the default DateStyle (ISO). */
export const PG_TIMESTAMPTZ_RE = /^\d{4,}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;
export const TITLE_MAX = 255; // varchar(255), as in the original schema
export const TERMINAL_SQL = `('completed', 'failed', 'cancelled')`;
export const PG_UNIQUE_VIOLATION = '23505';

/**
 * jsonb parameters are sent as JSON text (pg would turn a JS array into a
 * PostgreSQL array); null and undefined become SQL NULL, not JSON null.
 */
export function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export function iso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

export function clip(title: string): string {
  return title.length > TITLE_MAX ? title.slice(0, TITLE_MAX) : title;
}

export function toProfile(r: Row): Profile {
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
    fileVersionAt: iso(r.file_version_at),
    publishedAt: iso(r.published_at),
    visibility: r.visibility ?? 'private',
    revision: r.revision ?? null,
    closedRunId: r.closed_run_id ?? null,
    outlineReview: r.outline_review ?? null,
    waitingFor: r.waiting_for ?? null,
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

export function toActivity(r: Row): UserActivity {
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
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] | undefined {
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
