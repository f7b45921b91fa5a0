/**
 * Names and payload types shared by the workflow, the activities, the API, the
 * workers and the tests. Nobody retypes these strings.
 *
 * Workflow code imports this module, so it must stay free of Node built-ins and I/O.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { BookBrief } from '../core/brief';
import type { OutlineAnswer, ReviewOutline } from '../core/outline-review';

/**
 * Patch id: rewrites and file re-runs redraw the cover when the book was retitled since it
 * was drawn. Runs recorded before it never ask, so their histories replay unchanged.
 */
export const COVER_FOLLOWS_TITLE = 'cover-follows-title-v1';

export const DEFAULT_TASK_QUEUE = 'ebooks';
export const EBOOK_WORKFLOW_TYPE = 'ebookWorkflow';
export const CHAPTER_REWRITE_WORKFLOW_TYPE = 'regenerateChapterWorkflow';

/**
 * One rewrite of a chapter per published version: a second request while one
 * runs finds the id taken, and after it publishes, the next version's id is free.
 */
export function chapterRewriteWorkflowId(ebookId: string, index: number, fromVersion: number): string {
  return `ebook-${ebookId}-chapter-${index}-from-v${fromVersion}`;
}

export interface ChapterRewriteInput {
  ebookId: string;
  index: number;
  /** Which rewrite this is (2 for the first), naming its stored text and picture. */
  revision: number;
  feedback?: string;
  watermark?: string;
  /** The owner's plan includes a print-ready PDF: the new version gets one too. */
  printReady?: boolean;
}

/** The workflow id names the book, so a double start of one book is impossible. */
export function ebookWorkflowId(ebookId: string): string {
  return `ebook-${ebookId}`;
}

/** Custom search attributes an operator filters on in the Temporal Web UI. */
export const SEARCH_ATTRIBUTE_TYPES = {
  EbookId: 'Keyword',
  EbookUserId: 'Keyword',
  EbookStage: 'Keyword',
} as const;

export const EBOOK_ID_ATTRIBUTE = defineSearchAttributeKey('EbookId', 'KEYWORD');
export const USER_ID_ATTRIBUTE = defineSearchAttributeKey('EbookUserId', 'KEYWORD');
export const STAGE_ATTRIBUTE = defineSearchAttributeKey('EbookStage', 'KEYWORD');

export type EbookStatus = 'queued' | 'running' | 'awaiting_review' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_STATUSES: readonly EbookStatus[] = ['completed', 'failed', 'cancelled'];

export type Stage =
  | 'queued'
  | 'outline'
  /** Waiting for the owner to approve, edit or revise the outline (books started with `review: 'outline'`). */
  | 'outline_review'
  | 'chapters'
  | 'cover'
  | 'pdf'
  | 'epub'
  | 'storing'
  | 'publishing'
  | 'completed'
  | 'failed'
  | 'cancelled';

export type ChapterStatus = 'pending' | 'writing' | 'written' | 'illustrating' | 'done' | 'failed';

export interface ChapterState {
  index: number;
  title: string;
  status: ChapterStatus;
  words?: number;
  textProvider?: string;
  imageProvider?: string;
}

/** Input of the ebook workflow. Small: the brief and ids, nothing generated. */
export interface EbookWorkflowInput {
  ebookId: string;
  /** The owner's profile id (database) and Clerk user id (identity). */
  profileId: string;
  userId: string;
  brief: BookBrief;
  /** Free-tier books carry a watermark. */
  watermark?: string;
  /** The owner's plan includes a print-ready PDF (core/tiers.ts `printReady`). */
  printReady?: boolean;
  /** Chapters in flight at once (default 4). */
  concurrency?: number;
  /** 'outline': wait after the outline until the owner answers `reviewOutlineUpdate`. */
  review?: ReviewKind;
  /** How long an unanswered review waits before the book is cancelled (REVIEW_TIMEOUT, as the API read it). */
  reviewTimeoutMs?: number;
}

export const REVIEW_KINDS = ['outline'] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

/** The default REVIEW_TIMEOUT: a week. */
export const DEFAULT_REVIEW_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;

export type { OutlineAnswer, ReviewOutline };

/** Approve, edit or revise the outline of a waiting book; answers with the outline as the workflow now holds it. */
export const reviewOutlineUpdate = defineUpdate<ReviewOutline, [OutlineAnswer]>('reviewOutline');
/** The outline under review (null before the outline is written and once it is approved). */
export const outlineQuery = defineQuery<ReviewOutline | null>('outline');

/** Failure types of a refused review answer (the update's validator, before anything is written). */
export const ReviewErrorTypes = {
  /** The answer breaks a rule; its details name the field. */
  InvalidAnswer: 'InvalidOutlineAnswer',
  /** The book is not waiting for a review (any more). */
  NotAwaitingReview: 'NotAwaitingReview',
  /** Nobody answered within the review timeout: the book was cancelled. */
  ReviewTimedOut: 'ReviewTimedOut',
} as const;

/** What the render activities receive: references to everything the book is made of. */
export interface BookManifest {
  ebookId: string;
  title: string;
  coverKey: string;
  coverAlt: string;
  watermark?: string;
  chapters: Array<{ index: number; title: string; textKey: string; image?: { key: string; alt: string } }>;
  credits: string[];
}

export interface EbookError {
  type: string;
  message: string;
}

/** The live state answered by the `state` query. */
export interface EbookState {
  ebookId: string;
  status: EbookStatus;
  stage: Stage;
  progress: number;
  title?: string;
  chapters: ChapterState[];
  /** Names of the providers in use; `offline` ones are marked by name. */
  providers: { text?: string; image?: string };
  error?: EbookError;
  fileVersion?: number;
}

export const stateQuery = defineQuery<EbookState>('state');

/** Non-retryable failure types: no retry can fix these. */
export const ErrorTypes = {
  BadInput: 'BadInput',
  ContentRefused: 'ContentRefused',
  NotFound: 'NotFound',
  /** Every configured provider refused (auth, quota, missing model): no retry helps. */
  ProviderUnavailable: 'ProviderUnavailable',
  /** The model's outline stayed invalid after one repair round. */
  InvalidOutline: 'InvalidOutline',
} as const;

// ---- Activity payloads (references, never book content) ----

export interface OutlineRef {
  /** Storage key of the full outline JSON. */
  outlineKey: string;
  title: string;
  chapters: Array<{ index: number; title: string }>;
  provider: string;
  seed: number;
}

export interface ChapterRef {
  index: number;
  textKey: string;
  words: number;
  provider: string;
}

export interface ImageRef {
  key: string;
  alt: string;
  provider: string;
}

export interface FileRef {
  key: string;
  bytes: number;
  sha256: string;
}

export interface StoredFiles {
  version: number;
  pdf: FileRef;
  epub: FileRef;
  cover: FileRef;
  /** The print-ready PDF, when the owner's plan includes one. */
  print?: FileRef;
  /** Its wraparound cover (back, spine, front), stored beside it; absent for print PDFs made before covers. */
  printCover?: FileRef;
}

/**
 * Progress 0..1 from the stage and the chapters' states. One function for the
 * workflow's query and for the API's reads of the database row, so both agree.
 */
const STAGE_BASE: Record<Stage, number> = {
  queued: 0,
  outline: 0.02,
  outline_review: 0.05,
  chapters: 0.1,
  cover: 0.8,
  pdf: 0.82,
  epub: 0.9,
  storing: 0.95,
  publishing: 0.98,
  completed: 1,
  failed: 0,
  cancelled: 0,
};

export function computeProgress(
  stage: Stage,
  chapters: ReadonlyArray<{ status: string }>,
): number {
  if (stage === 'completed') return 1;
  if (stage === 'chapters' || stage === 'cover') {
    const total = chapters.length || 1;
    // Writing a chapter counts as half of it; its illustration as the other half.
    const done = chapters.reduce(
      (sum, c) =>
        sum + (c.status === 'done' ? 1 : c.status === 'written' || c.status === 'illustrating' ? 0.5 : 0),
      0,
    );
    return Math.round((0.1 + 0.7 * (done / total)) * 1000) / 1000;
  }
  return STAGE_BASE[stage] ?? 0;
}

// ---- Erasure (workflows/erase.ts) ----

export const ERASE_EBOOK_WORKFLOW_TYPE = 'eraseEbookWorkflow';
export const ERASE_USER_WORKFLOW_TYPE = 'eraseUserWorkflow';

/** One erasure per book: a second DELETE while one runs joins it. */
export function eraseEbookWorkflowId(ebookId: string): string {
  return `erase-ebook-${ebookId}`;
}

/** One erasure per user at a time; a user made again and deleted again gets a new run of the same id. */
export function eraseUserWorkflowId(clerkUserId: string): string {
  return `erase-user-${clerkUserId}`;
}

/** Who asked for an erasure, for its audit entry: no content. */
export interface ErasureRequest {
  /** The caller's Clerk user id, or `clerk` for Clerk's user.deleted webhook. */
  requestedBy: string;
  source: 'api' | 'admin' | 'clerk-webhook';
  /** ISO time the request arrived. */
  requestedAt: string;
}

export interface EraseEbookInput extends ErasureRequest {
  ebookId: string;
}

export interface EraseUserInput extends ErasureRequest {
  clerkUserId: string;
}

/**
 * The storage prefixes of what a book, a story or a user (their AI pictures) owns:
 * every key the engine writes starts with one (activities/storage/types.ts `keys`,
 * the stories' and pictures' keys), so erasing the prefixes leaves nothing behind.
 */
export const erasurePrefixes = {
  ebook: (ebookId: string) => `ebooks/${ebookId}/`,
  story: (storyId: string) => `stories/${storyId}/`,
  user: (profileId: string) => `users/${profileId}/`,
};

/** What an erasure removed, by kind (rows and stored objects): numbers only. */
export type ErasureCounts = Record<string, number>;
