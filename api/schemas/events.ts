/**
 * The payloads of a book's server-sent events (`GET /v1/ebooks/{id}/events`), one
 * schema per event type. The `data:` line of an event of type T is JSON matching
 * EBOOK_EVENT_SCHEMAS[T]; api/openapi.ts publishes them as components
 * (`EbookEvent` names them all), and the contract test checks every event a
 * book's run sends against them.
 */
import { z } from 'zod';
import { EBOOK_STAGES, REVISION_STAGES, REVISION_STEP_NAMES } from './ebooks';

const index = z.int().min(1);
const error = z.object({ type: z.string().optional(), message: z.string(), details: z.unknown().optional() });

/** Every event names its run (the file version it publishes; 1 for the first generation), once the book has a `started`. */
const run = { run: z.int().min(1).optional().describe('The run this event belongs to: the file version it publishes') };
const event = <S extends z.ZodRawShape>(shape: S) => z.object({ ...run, ...shape });

export const EBOOK_EVENT_SCHEMAS = {
  // The one event whose run is always there: it is what names the run.
  started: z.object({
    kind: z.enum(['book', 'chapter', 'step']).describe('The first generation, a chapter rewrite, or a step run again'),
    workflowId: z.string(),
    chapter: index.optional(),
    step: z.enum(REVISION_STEP_NAMES).optional(),
    run: z.int().min(1),
  }),
  stage: event({
    stage: z.enum(EBOOK_STAGES),
    bytes: z.int().optional().describe('Size of the file just rendered'),
    print: z.boolean().optional().describe('The print-ready PDF'),
  }),
  // The written outline (provider, offline); for a book started with review "outline", each
  // outline put up for review (awaitingReview, version, characters, summaries, expiresAt).
  outline: event({
    title: z.string(),
    logline: z.string().optional(),
    chapters: z.array(z.object({ index, title: z.string(), summary: z.string().optional() })),
    provider: z.string().optional(),
    offline: z.boolean().optional(),
    awaitingReview: z.boolean().optional().describe('true: the book waits for its owner to approve, edit or revise this outline'),
    version: z.int().min(1).optional().describe('The outline version under review'),
    characters: z.array(z.object({ name: z.string(), personality: z.string() })).optional(),
    expiresAt: z.string().optional().describe('When the review runs out (ISO 8601)'),
  }),
  'review.reminder': event({
    review: z.enum(['outline']),
    expiresAt: z.string().describe('When the review runs out (ISO 8601): the book is cancelled then unless answered'),
  }),
  'chapter.text': event({ index, delta: z.string().describe('Moderated text to append to the chapter') }),
  'chapter.written': event({ index, words: z.int().min(0), provider: z.string() }),
  'chapter.restart': event({ index, attempt: z.int().min(2).describe('The chapter starts over: drop its text so far') }),
  'chapter.illustrated': event({ index, provider: z.string() }),
  cover: event({ provider: z.string() }),
  'provider.call': event({
    step: z.string(),
    index: index.optional(),
    provider: z.string(),
    model: z.string(),
    usage: z.record(z.string(), z.unknown()),
  }),
  revision: event({
    step: z.enum(REVISION_STEP_NAMES),
    chapter: index.optional().describe('Set for a single chapter rewrite'),
    stage: z.enum(REVISION_STAGES),
    status: z.enum(['running', 'completed', 'failed', 'cancelled']),
    fromVersion: z.int().min(1),
    toVersion: z.int().min(1).optional(),
    error: z.object({ type: z.string(), message: z.string() }).optional(),
  }),
  completed: event({ version: z.int().min(1).describe('The file version just published') }),
  failed: event({ error }),
  cancelled: event({ error }),
} as const;

export type EbookEventType = keyof typeof EBOOK_EVENT_SCHEMAS;
export type EbookEventData<T extends EbookEventType> = z.infer<(typeof EBOOK_EVENT_SCHEMAS)[T]>;

/** Component name of an event type's payload: `chapter.text` → `EbookEventChapterText`. */
export const eventComponentName = (type: string) =>
  'EbookEvent' + type.split('.').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
