/**
 * The OpenAPI operations of sessions, users for admins and the AI services
 * (issue 22), kept apart from ./openapi.ts so they are added there in one line
 * (its `Operation` shape; not imported, so the two files do not import each other).
 */
import type { z } from 'zod';
import type { ComponentName, RequestHeader, ResponseHeader } from './openapi-parts';
import { adminUpdateUserSchema } from './routes/admin-users';
import { enhanceImageSchema, generateChaptersSchema } from './routes/ai-services';
import { generateStorySchema } from './routes/story-generation';
import { createSessionSchema, destroySessionQuerySchema, sessionListQuerySchema, validateTokenSchema } from './routes/sessions';

/** What ./openapi.ts's `Operation` needs of these (structurally the same). */
interface AccountOperation {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  headers?: RequestHeader[];
  responses: Record<string, string | { description: string; schema?: ComponentName; headers?: ResponseHeader[] }>;
}

export const ACCOUNT_OPERATIONS: AccountOperation[] = [
  {
    method: 'post',
    path: '/v1/auth/clerk/validate',
    summary: "Validate a session token (Clerk's, or the local key's) and answer its verified claims; a revoked session's token is not valid",
    body: validateTokenSchema,
    responses: { '200': '{valid, userId, sessionId, role, issuedAt, expiresAt, claims} or {valid: false, reason}', '400': 'Invalid request' },
  },
  {
    method: 'get',
    path: '/v1/auth/sessions',
    summary: "The live sessions of the caller (admins: any user's with ?userId), through Clerk's Backend API when Clerk is configured",
    query: sessionListQuerySchema,
    responses: { '200': '{userId, items: [{id, status, source, createdAt, expiresAt, lastActiveAt, current}]}', '400': 'Invalid query', '403': "Another user's sessions without being an admin", '502': "Clerk's Backend API failed" },
  },
  {
    method: 'get',
    path: '/v1/auth/sessions/validate',
    summary: "The caller's session is valid (not expired, not signed out; with Clerk, still active at Clerk): user, role, session id, issue and expiry times",
    responses: { '200': '{valid, userId, role, sessionId, issuedAt, expiresAt, issuer, source}', '401': 'Signed out (reason session_revoked, or session_<status> from Clerk)', '502': "Clerk's Backend API failed" },
  },
  {
    method: 'post',
    path: '/v1/auth/sessions/create',
    summary:
      "With Clerk, signing in is Clerk's: answers {created: false, signIn: 'clerk', frontendApi, instructions} (sign in with ClerkJS, send session.getToken() as the bearer). With the local key: a new recorded session for the caller (201, with its token)",
    body: createSessionSchema,
    responses: { '200': 'Clerk: what the client must do', '201': 'Local key: {sessionId, token, expiresAt}', '400': 'Invalid request' },
  },
  {
    method: 'delete',
    path: '/v1/auth/sessions/destroy',
    summary:
      'Sign out: the current session, ?sessionId=one of yours, or ?all=true for every session (admins: ?userId=); revoked through Clerk when configured, and its tokens are refused at once; audited',
    query: destroySessionQuerySchema,
    responses: { '200': '{userId, revoked: [sessionId], all}', '400': 'Invalid query', '403': "Another user's sessions without being an admin", '404': 'No such session of this user', '502': "Clerk's Backend API failed" },
  },
  {
    method: 'get',
    path: '/v1/auth/users/{userId}',
    summary: "A user's profile, role and plan (admin only; recorded in the user's activity)",
    responses: { '200': '{userId, email, name, avatarUrl, role, plan: {tier, name, expiresAt}, createdAt, updatedAt}', '403': 'Not an admin', '404': 'No such user' },
  },
  {
    method: 'put',
    path: '/v1/auth/users/{userId}',
    summary:
      "Change a user's name, avatar, role or plan (admin only; audited). With Clerk the role is written to the user's public metadata; taking admin away signs the user out everywhere",
    body: adminUpdateUserSchema,
    responses: { '200': 'The user, with signedOut: [sessionId]', '400': 'Invalid request', '403': 'Not an admin', '404': 'No such user', '502': "Clerk's Backend API failed" },
  },
  {
    method: 'delete',
    path: '/v1/auth/users/{userId}',
    summary: 'Erase a user (admin only), as DELETE /v1/users/{userId} does',
    responses: { '202': 'The erasure workflow started', '403': 'Not an admin', '404': 'No such user' },
  },
  {
    method: 'post',
    path: '/v1/ai/generate/chapters',
    summary:
      'Split a text (or storyId: one of your stories) at paragraph boundaries into chapterCount titled chapters, rewriting each when rewrite is true, as a durable workflow; the result at Location (honours Idempotency-Key)',
    body: generateChaptersSchema,
    headers: ['Idempotency-Key'],
    responses: { '202': { description: 'Started: follow the job at Location (/v1/ai/chapters/{id})', schema: 'ChaptersStarted', headers: ['Location'] }, '400': 'Invalid request', '404': 'storyId names no story of yours', '409': 'Same Idempotency-Key in progress', '422': 'Idempotency-Key reused for another request', '503': 'Workflow engine unreachable' },
  },
  {
    method: 'get',
    path: '/v1/ai/chapters/{id}',
    summary: 'A chapters job (its owner only): status running, completed (chapters: [{index, title, paragraphs, words}]) or failed (error)',
    responses: { '200': { description: 'The job', schema: 'ChaptersJob' }, '404': 'No such job for this user' },
  },
  {
    method: 'post',
    path: '/v1/ai/generate/story',
    summary: 'An alias of POST /v1/stories/generate: the same body, 202 and Location (/v1/stories/{id}); the story is stored (delete it if it is not wanted)',
    body: generateStorySchema,
    headers: ['Idempotency-Key'],
    responses: { '202': { description: 'Started: follow the story at Location', schema: 'Started', headers: ['Location'] }, '400': 'Invalid request', '409': 'Same Idempotency-Key in progress', '422': 'Idempotency-Key reused for another request', '503': 'Workflow engine unreachable' },
  },
  {
    method: 'post',
    path: '/v1/ai/enhance/image',
    summary:
      "Upscale a stored picture x2 or x4 (imageId: one of the AI routes' pictures; or ebookId + chapter: a book's illustration), optionally denoised, through the image provider's upscaler (Runware) or locally with sharp; stored as a new picture at its url (honours Idempotency-Key)",
    body: enhanceImageSchema,
    headers: ['Idempotency-Key'],
    responses: { '200': { description: 'The enlarged picture, stored at Location', schema: 'UpscaledPicture', headers: ['Location'] }, '400': 'Invalid request', '404': 'No such picture, book or illustration of yours', '422': 'The picture cannot be read, or the result would be too large', '502': 'The providers failed', '503': 'No provider or workflow engine available', '504': 'No answer within about a minute (the picture may still appear at its url)' },
  },
];
