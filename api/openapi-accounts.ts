/**
 * The OpenAPI operations of sessions, users for admins and the AI services
 * (issue 22), kept apart from ./openapi.ts so they are added there in one line
 * (its `Operation` shape; not imported, so the two files do not import each other).
 */
import { createSessionSchema, destroySessionQuerySchema, sessionListQuerySchema, validateTokenSchema } from './routes/sessions';

export const ACCOUNT_OPERATIONS = [
  {
    method: 'post' as const,
    path: '/v1/auth/clerk/validate',
    summary: "Validate a session token (Clerk's, or the local key's) and answer its verified claims; a revoked session's token is not valid",
    body: validateTokenSchema,
    responses: { '200': '{valid, userId, sessionId, role, issuedAt, expiresAt, claims} or {valid: false, reason}', '400': 'Invalid request' },
  },
  {
    method: 'get' as const,
    path: '/v1/auth/sessions',
    summary: "The live sessions of the caller (admins: any user's with ?userId), through Clerk's Backend API when Clerk is configured",
    query: sessionListQuerySchema,
    responses: { '200': '{userId, items: [{id, status, source, createdAt, expiresAt, lastActiveAt, current}]}', '400': 'Invalid query', '403': "Another user's sessions without being an admin", '502': "Clerk's Backend API failed" },
  },
  {
    method: 'get' as const,
    path: '/v1/auth/sessions/validate',
    summary: "The caller's session is valid (not expired, not signed out): user, role, session id, issue and expiry times",
    responses: { '200': '{valid, userId, role, sessionId, issuedAt, expiresAt, issuer, source}' },
  },
  {
    method: 'post' as const,
    path: '/v1/auth/sessions/create',
    summary:
      "With Clerk, signing in is Clerk's: answers {created: false, signIn: 'clerk', frontendApi, instructions} (sign in with ClerkJS, send session.getToken() as the bearer). With the local key: a new recorded session for the caller (201, with its token)",
    body: createSessionSchema,
    responses: { '200': 'Clerk: what the client must do', '201': 'Local key: {sessionId, token, expiresAt}', '400': 'Invalid request' },
  },
  {
    method: 'delete' as const,
    path: '/v1/auth/sessions/destroy',
    summary:
      'Sign out: the current session, ?sessionId=one of yours, or ?all=true for every session (admins: ?userId=); revoked through Clerk when configured, and its tokens are refused at once; audited',
    query: destroySessionQuerySchema,
    responses: { '200': '{userId, revoked: [sessionId], all}', '400': 'Invalid query', '403': "Another user's sessions without being an admin", '404': 'No such session of this user', '502': "Clerk's Backend API failed" },
  },
];
