/**
 * The OpenAPI 3.1 description, built from the same zod schemas that validate
 * requests, so the document and the validation cannot drift apart.
 */
import { z } from 'zod';
import { components, operationParts, type ComponentName, type RequestHeader, type ResponseHeader } from './openapi-parts';
import { createEbookSchema } from './routes/ebooks/create';
import { updateEbookSchema } from './routes/ebooks/manage';
import { outlineEditSchema, outlineReviseSchema } from './routes/helpers/review';
import { revisionBodySchemas } from './routes/ebooks/steps';
import { listQuerySchema, rewriteSchema } from './routes/helpers/request';
import { createStorySchema, updateStorySchema } from './routes/stories';
import {
  activityQuerySchema,
  activitySchema,
  permissionCheckSchema,
  preferencesSchema,
  updateProfileSchema,
} from './routes/profiles';
import { subscriptionSchema } from './routes/users';
import { switchProvidersSchema } from './routes/ai';
import { generateStorySchema, regenerateStorySchema } from './routes/story-generation';
import { enhancePromptSchema, generateCoverSchema, generateImageSchema } from './routes/ai-generate';
import { ACCOUNT_OPERATIONS } from './openapi-accounts';

/** A documented answer: its description, and (for 2xx) body schema, media type and headers. */
type Answer = string | { description: string; schema?: ComponentName; produces?: string; headers?: ResponseHeader[] };

interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  auth?: false;
  body?: z.ZodType;
  /** The body may be left out (an empty body is `{}`). */
  bodyOptional?: true;
  query?: z.ZodObject;
  /** Request headers the route reads. */
  headers?: RequestHeader[];
  responses: Record<string, Answer>;
  produces?: string | string[];
}

/** What the file routes send, by kind: pdf, print and print-cover, epub, cover. */
const DOWNLOADS = ['application/pdf', 'application/epub+zip', 'image/*'];

/** The event stream's query: the browser's way in (api/stream-tokens.ts) and its way to resume. */
const resumeQuerySchema = z.object({
  lastEventId: z
    .string()
    .regex(/^\d{1,15}$/)
    .optional()
    .describe('As Last-Event-ID: resume after this id; 0 for every run. An id the stream never sent is a position too: the events after it follow'),
});
const streamQuerySchema = resumeQuerySchema.extend({
  streamToken: z.string().optional().describe('From POST /v1/ebooks/{id}/events/token, instead of the Authorization header'),
});
const GARBAGE_EVENT_ID = 'Last-Event-ID (or lastEventId) is not an event id: names the field (header.Last-Event-ID, query.lastEventId)';

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness', auth: false, responses: { '200': 'The process is alive' } },
  { method: 'get', path: '/readyz', summary: 'Readiness: Temporal, database and storage reachable; Redis, when configured, is reported but only degrades (`degraded: ["redis"]`)', auth: false, responses: { '200': 'Ready', '503': 'A dependency is down' } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', auth: false, produces: 'text/plain', responses: { '200': 'Metrics' } },
  { method: 'get', path: '/openapi.json', summary: 'This document', auth: false, responses: { '200': 'OpenAPI 3.1' } },
  {
    method: 'post',
    path: '/v1/ebooks',
    summary: 'Start the whole pipeline for a new book from a prompt, or from one of your completed stories (storyId: its text becomes the chapters); honours Idempotency-Key',
    body: createEbookSchema,
    headers: ['Idempotency-Key'],
    responses: { '202': { description: 'Started: follow the book at Location', schema: 'Started', headers: ['Location'] }, '413': 'Body over 64 kB', '415': 'Not application/json', '400': 'Invalid request', '402': 'Monthly allowance used up', '404': 'storyId names no story of this user', '409': 'Same Idempotency-Key in progress, or the story is not completed', '422': 'Idempotency-Key reused for another request', '503': 'Workflow engine unreachable' },
  },
  { method: 'get', path: '/v1/ebooks/{id}', summary: 'The book: title, chapters with text, file URLs, cost', responses: { '200': { description: 'The book', schema: 'Book' }, '404': 'No such book for this user' } },
  { method: 'get', path: '/v1/ebooks/{id}/status', summary: 'Status, stage, progress and per-chapter state; the running change in `revision`, the published version in `fileVersion`', headers: ['If-None-Match'], responses: { '200': { description: 'Status', schema: 'Status', headers: ['ETag'] }, '304': 'Unchanged (If-None-Match)', '404': 'No such book for this user' } },
  { method: 'get', path: '/v1/ebooks/{id}/events', summary: "Progress and chapter text as server-sent events, each naming its run (`run`: the file version it publishes; a run opens with `started` and ends with `completed`, `failed` or `cancelled`). A new stream starts at the latest run; Last-Event-ID resumes, 0 for every run. A browser's EventSource authenticates with `?streamToken=`", produces: 'text/event-stream', headers: ['Last-Event-ID'], query: streamQuerySchema, responses: { '200': 'Event stream: each `data:` is JSON, one schema per event type (components/schemas/EbookEvent)', '400': GARBAGE_EVENT_ID, '404': 'No such book for this user' } },
  { method: 'post', path: '/v1/ebooks/{id}/events/token', summary: "A short-lived token (5 minutes) to read this book's event stream with a browser's own EventSource, which cannot send a bearer token", responses: { '200': { description: 'The token and the stream URL with it', schema: 'StreamToken' }, '404': 'No such book for this user' } },
  { method: 'get', path: '/v1/ebooks/{id}/outline', summary: 'The outline a book started with review "outline" waits with: version, title, logline, characters, chapters with summaries, expiresAt', responses: { '200': 'The outline', '404': 'No such book for this user', '409': 'The book is not waiting for its outline to be reviewed' } },
  { method: 'put', path: '/v1/ebooks/{id}/outline', summary: 'Edit the outline under review: the new title and the whole chapter plan (added, removed, reordered, retitled, resummarised; 1-24); the book keeps waiting', body: outlineEditSchema, responses: { '200': 'The outline as the book now holds it', '400': 'Invalid edit (names the field)', '404': 'No such book for this user', '409': 'The book is not waiting for its outline to be reviewed' } },
  { method: 'post', path: '/v1/ebooks/{id}/outline/revise', summary: 'Have a new outline written from the brief and this feedback; the book keeps waiting', body: outlineReviseSchema, responses: { '200': 'The new outline', '400': 'Invalid request (names the field)', '422': 'The feedback was refused by content moderation', '502': 'The outline could not be written; the book still waits', '404': 'No such book for this user', '409': 'The book is not waiting for its outline to be reviewed' } },
  { method: 'post', path: '/v1/ebooks/{id}/outline/approve', summary: 'Approve the outline: the chapters are written from it', responses: { '200': 'The approved outline', '404': 'No such book for this user', '409': 'The book is not waiting for its outline to be reviewed' } },
  { method: 'post', path: '/v1/ebooks/{id}/cancel', summary: 'Cancel the generation (honours Idempotency-Key)', headers: ['Idempotency-Key'], responses: { '202': { description: 'Cancelling', schema: 'Started', headers: ['Location'] }, '404': 'No such book for this user', '409': 'Already finished' } },
  {
    method: 'post',
    path: '/v1/ebooks/{id}/chapters/{n}/regenerate',
    summary: 'Rewrite one chapter (optionally with feedback) and its picture, re-render, publish a new file version',
    body: rewriteSchema,
    bodyOptional: true,
    headers: ['Idempotency-Key'],
    responses: { '202': { description: 'Started: follow the book at Location', schema: 'Started', headers: ['Location'] }, '400': 'Invalid request', '404': 'No such book or chapter', '409': 'Book not completed, or this rewrite is already running' },
  },
  ...(['chapters', 'illustrations', 'pdf', 'epub'] as const).map((step) => ({
    method: 'post' as const,
    path: `/v1/ebooks/{id}/${step}`,
    summary: {
      chapters: 'Rewrite every chapter (optionally following feedback; outline kept), re-render, publish a new file version',
      illustrations: 'Redraw every chapter picture and the cover, re-render, publish a new file version',
      pdf: 'Render the PDF again from the current book, publish a new file version',
      epub: 'Render the EPUB again from the current book, publish a new file version',
    }[step] + ' (honours Idempotency-Key; progress in /status `revision` and the event stream)',
    body: revisionBodySchemas[step],
    bodyOptional: true as const,
    headers: ['Idempotency-Key' as const],
    responses: { '202': { description: 'Started: follow the book at Location', schema: 'Started' as const, headers: ['Location' as const] }, '400': 'Invalid request', '404': 'No such book for this user', '409': 'Book not completed, or a revision of it is already running' },
  })),
  { method: 'post', path: '/v1/ebooks/{id}/publish', summary: 'Make a completed book public (readable without a token under /shared/ebooks/{id})', headers: ['Idempotency-Key'], responses: { '200': { description: 'Published', schema: 'Publication' }, '404': 'No such book for this user', '409': 'Book not completed' } },
  { method: 'post', path: '/v1/ebooks/{id}/unpublish', summary: 'Make a book private again', headers: ['Idempotency-Key'], responses: { '200': { description: 'Private', schema: 'Publication' }, '404': 'No such book for this user' } },
  { method: 'get', path: '/shared/ebooks/{id}', summary: 'A public book: title, description, chapters with text, file URLs', auth: false, responses: { '200': { description: 'The book', schema: 'SharedBook' }, '404': 'No such public book' } },
  { method: 'get', path: '/shared/ebooks/{id}/chapters/{n}/image', summary: "A public book's chapter illustration (ETag, alt text in X-Image-Alt)", auth: false, produces: 'image/*', headers: ['If-None-Match'], responses: { '200': { description: 'The image', headers: ['ETag'] }, '304': 'Unchanged (If-None-Match)', '400': 'n is not a chapter number', '404': 'No such public book, chapter or illustration' } },
  { method: 'get', path: '/shared/ebooks/{id}/files/{kind}', summary: "A public book's PDF, EPUB or cover (kind: pdf, epub, cover)", auth: false, produces: DOWNLOADS, headers: ['If-None-Match'], responses: { '200': { description: 'The file (immutable under the `?v=` of the current version)', headers: ['Content-Disposition', 'ETag'] }, '302': { description: 'With S3 storage: a short-lived signed URL of the file', headers: ['Location'] }, '304': 'Unchanged (If-None-Match)', '404': 'No such public book or file' } },
  { method: 'get', path: '/v1/ebooks/{id}/chapters/{n}/image', summary: "A chapter's illustration (owner only; ETag, alt text in X-Image-Alt)", produces: 'image/*', headers: ['If-None-Match'], responses: { '200': { description: 'The image', headers: ['ETag'] }, '304': 'Unchanged (If-None-Match)', '400': 'n is not a chapter number', '404': 'No such book or chapter, or not illustrated yet' } },
  { method: 'get', path: '/v1/ebooks/{id}/files/{kind}', summary: 'Download the PDF, the EPUB, the cover, or the print-on-demand package of the Midnights and The Eras Tour plans: the print-ready interior PDF and its wraparound cover PDF (kind: pdf, epub, cover, print, print-cover)', produces: DOWNLOADS, headers: ['If-None-Match'], responses: { '200': { description: 'The file (immutable under the `?v=` of the current version)', headers: ['Content-Disposition', 'ETag'] }, '302': { description: 'With S3 storage: a short-lived signed URL of the file', headers: ['Location'] }, '304': 'Unchanged (If-None-Match)', '404': 'No such book, file not ready, or no print package (plan without printReady; print-cover: a version made before print covers)' } },
  { method: 'get', path: '/v1/users/{userId}/ebooks', summary: "A user's books, newest first (userId may be 'me')", query: listQuerySchema, responses: { '200': { description: 'A page of books', schema: 'BookPage' }, '400': 'Invalid query', '404': 'No such user for this caller' } },
  { method: 'get', path: '/v1/users/{userId}/subscription', summary: "A user's plan and this month's usage", responses: { '200': { description: 'Subscription', schema: 'Subscription' }, '404': 'No such user for this caller' } },
  { method: 'put', path: '/v1/users/{userId}/subscription', summary: 'Change a plan (admin only)', body: subscriptionSchema, responses: { '200': { description: 'Subscription', schema: 'Subscription' }, '400': 'Invalid request', '403': 'Not an admin', '404': 'No such user' } },
  { method: 'put', path: '/v1/ebooks/{id}', summary: 'Change the title, description and/or pen name of a finished book', body: updateEbookSchema, responses: { '200': { description: 'The status document with the description', schema: 'EditedBook' }, '400': 'Invalid request (names the field)', '404': 'No such book for this user', '409': 'Still being generated' } },
  { method: 'delete', path: '/v1/ebooks/{id}', summary: 'Delete a book; a running generation is cancelled and its allowance given back; an erasure workflow removes its rows and every stored file, picture and version', responses: { '202': { description: 'Still erasing after 20 s (status erasing)', schema: 'Started' }, '204': 'Deleted, rows and files', '404': 'No such book for this user' } },
  { method: 'delete', path: '/v1/users/{userId}', summary: "Erase a user (admin only): cancels their running books and stories and deletes all their rows and stored files, as a workflow (erase-user-<userId>)", responses: { '202': 'Erasing: {userId, workflowId, status}', '403': 'Not an admin', '404': 'No such user' } },
  { method: 'post', path: '/v1/stories', summary: 'Save a story', body: createStorySchema, responses: { '201': { description: 'Created: the story, at Location', schema: 'Story', headers: ['Location'] }, '400': 'Invalid request' } },
  { method: 'get', path: '/v1/stories/{id}', summary: "A story: the owner's (admins: any) or a published one", responses: { '200': { description: 'The story', schema: 'Story' }, '404': 'No such story for this user' } },
  { method: 'put', path: '/v1/stories/{id}', summary: 'Change title, content, status or metadata (merged)', body: updateStorySchema, responses: { '200': { description: 'The story', schema: 'Story' }, '400': 'Invalid request', '404': 'No such story for this user' } },
  { method: 'delete', path: '/v1/stories/{id}', summary: 'Delete a story (books made from it stay, unlinked)', responses: { '204': 'Deleted', '404': 'No such story for this user' } },
  { method: 'get', path: '/v1/stories/{id}/analytics', summary: 'Views, unique viewers, words and the books made from a story', responses: { '200': { description: 'Analytics', schema: 'StoryAnalytics' }, '404': 'No such story for this user' } },
  { method: 'post', path: '/v1/stories/{id}/views', summary: "Count a view (a viewer's repeats within 30 minutes count once)", responses: { '202': { description: 'Counted (or deduplicated), with the count', schema: 'StoryView' }, '404': 'No such story for this user' } },
  { method: 'get', path: '/v1/users/{userId}/stories', summary: "A user's stories, newest first (userId may be 'me')", query: listQuerySchema, responses: { '200': { description: 'A page of stories', schema: 'StoryPage' }, '400': 'Invalid query', '404': 'No such user for this caller' } },
  { method: 'get', path: '/v1/users/{userId}/profile', summary: "A user's profile", responses: { '200': { description: 'Profile', schema: 'Profile' }, '404': 'No such user for this caller' } },
  { method: 'put', path: '/v1/users/{userId}/profile', summary: 'Change name or avatar (email comes from Clerk)', body: updateProfileSchema, responses: { '200': { description: 'Profile', schema: 'Profile' }, '400': 'Invalid request', '404': 'No such user for this caller' } },
  { method: 'get', path: '/v1/users/{userId}/preferences', summary: "A user's preferences", responses: { '200': 'Preferences', '404': 'No such user for this caller' } },
  { method: 'put', path: '/v1/users/{userId}/preferences', summary: 'Merge preferences (null removes a key; unknown keys are refused)', body: preferencesSchema, responses: { '200': 'Preferences', '400': 'Invalid request', '404': 'No such user for this caller', '413': 'Over 16 kB' } },
  { method: 'post', path: '/v1/users/{userId}/activity', summary: 'Record a client event (page_view, share, download...)', body: activitySchema, responses: { '201': 'Recorded', '400': 'Invalid request', '404': 'No such user for this caller' } },
  { method: 'get', path: '/v1/users/{userId}/activity', summary: "A user's activity, newest first", query: activityQuerySchema, responses: { '200': 'Activity', '400': 'Invalid query', '404': 'No such user for this caller' } },
  { method: 'get', path: '/v1/users/{userId}/analytics', summary: 'Books by status, words, images, stories, views and spend (cost.totalUsd summed)', responses: { '200': 'Analytics', '404': 'No such user for this caller' } },
  { method: 'get', path: '/v1/auth/permissions/{userId}', summary: "A user's role, plan and what it allows", responses: { '200': 'Permissions', '404': 'No such user for this caller' } },
  { method: 'post', path: '/v1/auth/permissions/check', summary: 'Whether a user (default: the caller) has a permission, and why', body: permissionCheckSchema, responses: { '200': '{allowed, reason}', '400': 'Invalid request', '403': 'Asking about another user without being an admin', '404': 'No such user' } },
  { method: 'get', path: '/v1/auth/session', summary: 'The verified session: user id, role, session id', responses: { '200': 'Session' } },
  { method: 'get', path: '/v1/ai/services/status', summary: 'AI providers: configured, preferred order, last hour of successes and failures', responses: { '200': { description: 'Provider status', schema: 'ProviderStatus' } } },
  { method: 'post', path: '/v1/ai/services/breakers/close', summary: "Close every worker's provider circuit breakers (admin only), e.g. after a key is fixed; workers follow within seconds", responses: { '200': { description: 'When they were closed', schema: 'BreakersClosed' }, '403': 'Not an admin' } },
  { method: 'post', path: '/v1/ai/services/switch', summary: 'Set the preferred provider order (admin only); workers follow within seconds', body: switchProvidersSchema, responses: { '200': { description: 'The new order', schema: 'ProviderOrder' }, '400': 'Invalid request', '403': 'Not an admin' } },
  {
    method: 'post',
    path: '/v1/stories/generate',
    summary: 'Write a story from a prompt (storyline, then the text) as a durable workflow; free, honours Idempotency-Key',
    body: generateStorySchema,
    headers: ['Idempotency-Key'],
    responses: { '202': { description: 'Started: follow the story at Location', schema: 'Started', headers: ['Location'] }, '400': 'Invalid request', '409': 'Same Idempotency-Key in progress', '422': 'Idempotency-Key reused for another request', '503': 'Workflow engine unreachable' },
  },
  { method: 'get', path: '/v1/stories/{id}/outline', summary: 'The storyline a run started with review "outline" waits with (generation.stage outline_review): version, title, logline, characters, sections as chapters with summaries, expiresAt', responses: { '200': { description: 'The storyline', schema: 'Storyline' }, '404': 'No such story for this user', '409': 'The story is not waiting for its storyline to be reviewed' } },
  { method: 'put', path: '/v1/stories/{id}/outline', summary: 'Edit the storyline under review: the new title and the whole section plan (1-24); the run keeps waiting', body: outlineEditSchema, responses: { '200': { description: 'The storyline as the run now holds it', schema: 'Storyline' }, '400': 'Invalid edit (names the field)', '404': 'No such story for this user', '409': 'The story is not waiting for its storyline to be reviewed' } },
  { method: 'post', path: '/v1/stories/{id}/outline/revise', summary: 'Have a new storyline written from the brief and this feedback; the run keeps waiting', body: outlineReviseSchema, responses: { '200': { description: 'The new storyline', schema: 'Storyline' }, '400': 'Invalid request (names the field)', '404': 'No such story for this user', '409': 'The story is not waiting for its storyline to be reviewed', '422': 'The feedback was refused by content moderation', '502': 'The storyline could not be written; the run still waits' } },
  { method: 'post', path: '/v1/stories/{id}/outline/approve', summary: 'Approve the storyline: the sections are written from it', responses: { '200': { description: 'The approved storyline (awaitingReview false)', schema: 'Storyline' }, '404': 'No such story for this user', '409': 'The story is not waiting for its storyline to be reviewed' } },
  {
    method: 'post',
    path: '/v1/stories/{id}/regenerate',
    summary: 'Rewrite a generated story as its next revision (optionally with feedback); the previous text stays until the new one is stored',
    body: regenerateStorySchema,
    headers: ['Idempotency-Key'],
    responses: { '202': { description: 'Started: follow the story at Location', schema: 'Started', headers: ['Location'] }, '400': 'Invalid request', '404': 'No such story for this user', '409': 'A run of this story is in progress, or it was not generated from a prompt', '503': 'Workflow engine unreachable' },
  },
  {
    method: 'post',
    path: '/v1/stories/{id}/cancel',
    summary: 'Stop the story run in progress; the story ends failed with error Cancelled, or a rewrite leaves it as it was',
    headers: ['Idempotency-Key'],
    responses: { '202': { description: 'Cancelling', schema: 'Started', headers: ['Location'] }, '404': 'No such story for this user', '409': 'No run of this story is in progress' },
  },
  {
    method: 'get',
    path: '/v1/stories/{id}/events',
    summary: "A story's runs as server-sent events: stage, outline, section text as it is written (moderated), section.written, completed / failed / cancelled; each names its revision; starts at the latest run (Last-Event-ID resumes, 0 for every run)",
    produces: 'text/event-stream',
    headers: ['Last-Event-ID'],
    query: resumeQuerySchema,
    responses: { '200': 'Event stream', '400': GARBAGE_EVENT_ID, '404': 'No such story for this user' },
  },
  {
    method: 'post',
    path: '/v1/ai/enhance/prompt',
    summary: 'An improved prompt, written through the text providers while the caller waits (honours Idempotency-Key)',
    body: enhancePromptSchema,
    headers: ['Idempotency-Key'],
    responses: { '200': { description: 'The improved prompt', schema: 'EnhancedPrompt' }, '400': 'Invalid request', '422': 'Refused by content moderation', '502': 'The providers failed', '503': 'No provider or workflow engine available', '504': 'No answer within about a minute' },
  },
  {
    method: 'post',
    path: '/v1/ai/generate/image',
    summary: 'Draw one illustration through the image providers and store it for the caller (honours Idempotency-Key)',
    body: generateImageSchema,
    headers: ['Idempotency-Key'],
    responses: { '200': { description: 'The picture, stored at Location', schema: 'Picture', headers: ['Location'] }, '400': 'Invalid request', '422': 'Refused by content moderation', '502': 'The providers failed', '503': 'No provider or workflow engine available', '504': 'No answer within about a minute (the picture may still appear at its url)' },
  },
  {
    method: 'post',
    path: '/v1/ai/generate/cover',
    summary: 'Draw one book cover (with an optional title and subtitle set on it) and store it for the caller (honours Idempotency-Key)',
    body: generateCoverSchema,
    headers: ['Idempotency-Key'],
    responses: { '200': { description: 'The cover, stored at Location', schema: 'Picture', headers: ['Location'] }, '400': 'Invalid request', '422': 'Refused by content moderation', '502': 'The providers failed', '503': 'No provider or workflow engine available', '504': 'No answer within about a minute (the picture may still appear at its url)' },
  },
  { method: 'get', path: '/v1/ai/images/{id}', summary: 'A picture drawn by the AI routes (its owner only)', produces: 'image/*', responses: { '200': 'The picture', '404': 'No such picture for this user' } },
  { method: 'post', path: '/v1/auth/clerk/webhook', summary: 'Clerk user events, Svix-signed', auth: false, responses: { '200': 'Handled (or already handled)', '400': 'Bad signature', '503': 'Not configured' } },
  ...ACCOUNT_OPERATIONS,
];

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const { parameters, responses } = operationParts(op);
    if (op.query) {
      const shape = z.toJSONSchema(op.query, { io: 'input' }) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(shape.properties ?? {})) {
        parameters.push({ name, in: 'query', required: (shape.required ?? []).includes(name), schema });
      }
    }
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
      ...(op.auth === false ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? {
            requestBody: {
              // A body whose every field is optional may be left out: the routes read it as {}.
              required: !(op.bodyOptional || op.body.safeParse({}).success),
              content: { 'application/json': { schema: z.toJSONSchema(op.body, { io: 'input' }) } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Ebook engine API',
      version: '1.0.0',
      description: 'Durable, workflow-orchestrated generation of illustrated ebooks.',
      license: { name: 'UNLICENSED', identifier: 'LicenseRef-UNLICENSED' },
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: components(),
    paths,
  };
}
