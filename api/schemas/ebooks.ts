/**
 * What the book routes answer, as zod schemas. The routes type their answers with
 * these (`satisfies Status`…), and api/openapi.ts documents them from the same
 * objects, so a field added to an answer but not here is a type error, not a
 * silent drift of the published contract.
 */
import { z } from 'zod';

const uuid = z.uuid();
/** Where a resource is read; API paths relative to the server, `?v=` naming the file version. */
const url = z.string();
const dateTime = z.string().describe('ISO 8601 date-time');

export const EBOOK_STATUSES = ['queued', 'running', 'awaiting_review', 'completed', 'failed', 'cancelled'] as const;
export const EBOOK_STAGES = [
  'queued', 'outline', 'outline_review', 'chapters', 'cover', 'pdf', 'epub', 'storing', 'publishing', 'completed', 'failed', 'cancelled',
] as const;
export const CHAPTER_STATUSES = ['pending', 'writing', 'written', 'illustrating', 'done', 'failed'] as const;
export const REVISION_STEP_NAMES = ['chapters', 'illustrations', 'pdf', 'epub'] as const;
export const REVISION_STAGES = [
  'queued', 'chapters', 'illustrations', 'pdf', 'epub', 'storing', 'publishing', 'completed', 'failed', 'cancelled',
] as const;

export const errorSchema = z.object({ type: z.string().optional(), message: z.string(), details: z.unknown().optional() });

/** A change of a completed book (a step run again, or one chapter rewritten): the running one, or the last one. */
export const revisionSchema = z
  .object({
    kind: z.enum(['step', 'chapter']).describe('A whole step run again (POST /v1/ebooks/{id}/{step}), or one chapter rewritten (POST …/chapters/{n}/regenerate)'),
    workflowId: z.string(),
    runId: z.string(),
    step: z.enum(REVISION_STEP_NAMES).describe('For a chapter rewrite: chapters'),
    chapter: z.int().min(1).optional().describe('The chapter being rewritten (kind chapter)'),
    status: z.enum(['running', 'completed', 'failed', 'cancelled']),
    stage: z.enum(REVISION_STAGES),
    fromVersion: z.int().min(1),
    toVersion: z.int().min(1).optional(),
    startedAt: dateTime.optional(),
    finishedAt: dateTime.optional(),
    error: z.object({ type: z.string(), message: z.string() }).optional(),
    progress: z.number().min(0).max(1),
  })
;

/**
 * The outline a book started with `review: "outline"` waits with (core/outline-review.ts
 * ReviewOutline): in /status while the book is `awaiting_review`, and in the outline events.
 */
export const reviewOutlineSchema = z.object({
  version: z.int().min(1).describe('1, then one more for each edit or revision'),
  title: z.string(),
  logline: z.string(),
  characters: z.array(z.object({ name: z.string(), personality: z.string() })),
  chapters: z.array(z.object({ index: z.int().min(1), title: z.string(), summary: z.string() })),
  expiresAt: dateTime.optional().describe('When the book is cancelled if nobody answers'),
});

const statusChapterSchema = z.object({
  index: z.int().min(1),
  title: z.string(),
  status: z.enum(CHAPTER_STATUSES),
  words: z.int().min(0).optional(),
  textProvider: z.string().optional(),
  imageProvider: z.string().optional(),
});

/** GET /v1/ebooks/{id}/status (and each item of a user's book list). */
export const statusSchema = z
  .object({
    id: uuid,
    workflowId: z.string().nullable(),
    status: z.enum(EBOOK_STATUSES),
    stage: z.enum(EBOOK_STAGES),
    progress: z.number().min(0).max(1),
    title: z.string(),
    chapters: z.array(statusChapterSchema),
    providers: z.object({ text: z.string().optional(), image: z.string().optional(), used: z.array(z.string()) }),
    offline: z.boolean(),
    error: errorSchema.nullable(),
    visibility: z.enum(['private', 'public']),
    shareUrl: url.nullable(),
    fileVersion: z.int().min(1).describe('The published file version; a finished rewrite or re-run raises it'),
    fileVersionAt: dateTime.nullable().describe('When that file version was published (null before the first)'),
    revision: revisionSchema.nullable().describe('The running change (status running), else the last one, else null'),
    outline: reviewOutlineSchema.optional().describe('Only while the book is awaiting_review: the outline under review'),
    waitingFor: z
      .object({
        dependency: z.enum(['storage']).describe('What the book waits for: `storage`, the file store'),
        message: z.string().describe('In words, e.g. "waiting for file storage (unreachable: ECONNREFUSED); writeChapter is retried until it answers"'),
        step: z.string().optional().describe('The step (activity) that waits'),
        since: dateTime,
      })
      .nullable()
      .describe('While the book (or its revision) is queued or running: a dependency it waits for (its steps are retried until it answers); else null'),
    textLanguage: z
      .string()
      .optional()
      .describe('Only when the text is not in the language asked for (a writer that cannot write it): the language it is in, which the files are set in'),
    notices: z
      .array(z.string())
      .optional()
      .describe('Things the owner should know about the book, in words (e.g. "The offline writer writes English only; the book is set in English rather than Arabic.")'),
    updatedAt: dateTime,
  })
;

/** GET /v1/ebooks/{id}: the book as its owner reads it. */
export const bookSchema = statusSchema
  .extend({
    description: z.string().nullable(),
    prompt: z.string().nullable(),
    settings: z.unknown().describe('The brief the book was generated from'),
    chapters: z.array(
      statusChapterSchema.extend({
        summary: z.string().optional(),
        imageAlt: z.string().optional(),
        imageUrl: url.nullable(),
        paragraphs: z.array(z.string()),
      }),
    ),
    pdfUrl: url.nullable(),
    printPdfUrl: url.nullable(),
    printCoverUrl: url.nullable().describe('The print PDF’s wraparound cover (back, spine, front, bleed), sized from its page count; null without a print PDF'),
    epubUrl: url.nullable(),
    coverImageUrl: url.nullable(),
    cost: z.record(z.string(), z.unknown()),
    createdAt: dateTime,
    publishedAt: dateTime.nullable().describe('When the book was made public (later file versions do not move it; see fileVersionAt); null while private'),
  })
;

/** PUT /v1/ebooks/{id}: the status document with the description just set. */
export const editedBookSchema = statusSchema.extend({ description: z.string().nullable() });

/**
 * Every 202: the thing started (or being cancelled), the workflow doing it and
 * its status; `Location` names the resource to follow.
 */
export const startedSchema = z
  .object({
    id: uuid,
    workflowId: z.string(),
    status: z.enum(['queued', 'running', 'cancelling', 'generating', 'erasing']),
    step: z.enum(REVISION_STEP_NAMES).optional().describe('The step run again'),
    chapter: z.int().min(1).optional().describe('The chapter being rewritten'),
    fromVersion: z.int().min(1).optional().describe('The file version the change starts from'),
    revision: z.int().min(1).optional().describe("A story's run"),
  })
;

/** POST /v1/ebooks/{id}/publish and /unpublish. */
export const publicationSchema = z
  .object({
    id: uuid,
    visibility: z.enum(['private', 'public']),
    publishedAt: dateTime.nullable(),
    shareUrl: url.nullable(),
  })
;

/** GET /shared/ebooks/{id}: a public book, for anyone. */
export const sharedBookSchema = z
  .object({
    id: uuid,
    title: z.string(),
    description: z.string().nullable(),
    chapters: z.array(
      z.object({
        index: z.int().min(1),
        title: z.string(),
        paragraphs: z.array(z.string()),
        imageUrl: url.nullable(),
        imageAlt: z.string().nullable(),
      }),
    ),
    coverImageUrl: url.nullable(),
    pdfUrl: url.nullable(),
    epubUrl: url.nullable(),
    fileVersion: z.int().min(1),
    fileVersionAt: dateTime.nullable().describe('When this file version was published'),
    publishedAt: dateTime.nullable().describe('When the book was made public (later file versions do not move it)'),
    shareUrl: url.nullable(),
  })
;

/** GET /v1/users/{userId}/ebooks: a page of the user's books. */
export const bookPageSchema = z
  .object({
    items: z.array(
      statusSchema.extend({ createdAt: dateTime, pdfUrl: url.nullable(), epubUrl: url.nullable() }),
    ),
    nextCursor: z.string().nullable(),
  })
;

/** POST /v1/ebooks/{id}/events/token: a browser's EventSource reads the stream with it. */
export const streamTokenSchema = z.object({
  token: z.string(),
  expiresAt: dateTime,
  url: z.string().describe('The event stream with this token, for `new EventSource(url)`'),
});

export type StreamToken = z.infer<typeof streamTokenSchema>;
export type Status = z.infer<typeof statusSchema>;
export type Book = z.infer<typeof bookSchema>;
export type EditedBook = z.infer<typeof editedBookSchema>;
export type Started = z.infer<typeof startedSchema>;
export type Publication = z.infer<typeof publicationSchema>;
export type SharedBook = z.infer<typeof sharedBookSchema>;
export type BookPage = z.infer<typeof bookPageSchema>;
export type ReviewOutlineAnswer = z.infer<typeof reviewOutlineSchema>;
