/**
 * Sessions: validate a token and answer its verified claims, see the caller's
 * session and the live ones, start one, and sign out (one session or all).
 *
 * With a Clerk instance (CLERK_SECRET_KEY), Clerk owns sessions: they are listed
 * and revoked through its Backend API, and signing in is Clerk's own flow, so
 * `create` answers what the client must do instead. With the local key the
 * engine issues sessions itself and records them (auth_sessions). Either way a
 * revoked session is recorded here too, so every API process refuses its tokens
 * at once (api/session-revocations.ts) instead of when they expire.
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { verifyToken } from '@clerk/express';
import { decodeJwt } from 'jose';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import type { AuthSettings } from '../auth';
import type { Revocations } from '../session-revocations';
import type { SessionControl } from '../services/sessions';
import { signSessionToken } from '../../lib/tokens';
import { HttpProblem } from '../problem';
import { parseStrict } from './helpers/request';
import { clerkFrontendHost } from '../web';

export const validateTokenSchema = z.strictObject({
  token: z.string().trim().min(1, 'must not be empty').max(8192, 'must be at most 8192 characters'),
});

export const createSessionSchema = z.strictObject({
  ttlSeconds: z.number().int('must be an integer').min(60, 'must be 60-2592000').max(30 * 24 * 3600, 'must be 60-2592000').optional(),
});

const ID = z.string().regex(/^[\w.@-]{1,255}$/, 'must be an id');
export const destroySessionQuerySchema = z.strictObject({
  sessionId: ID.optional(),
  all: z.enum(['true', 'false'], { message: 'must be true or false' }).optional(),
  userId: ID.optional(),
});

export const sessionListQuerySchema = z.strictObject({ userId: ID.optional() });

export interface SessionRouterDeps {
  services: Services;
  auth: AuthSettings;
  revocations: Revocations;
  sessions: SessionControl;
  log: Logger;
}

/** The claims a client may rely on, from a payload that verified. */
function claimsOf(payload: Record<string, unknown>) {
  const metadata = payload.metadata as { role?: unknown } | undefined;
  const role = metadata?.role ?? payload.role;
  const at = (v: unknown) => (typeof v === 'number' ? new Date(v * 1000).toISOString() : null);
  return {
    userId: String(payload.sub),
    sessionId: typeof payload.sid === 'string' ? payload.sid : null,
    role: role === 'admin' ? 'admin' : 'user',
    issuedAt: at(payload.iat),
    expiresAt: at(payload.exp),
    claims: payload,
  };
}

export function sessionRouter(deps: SessionRouterDeps): Router {
  const { services, auth, revocations, sessions } = deps;
  const { repos } = services;
  const router = Router();

  /** Whose sessions a request is about: the caller's, or (admins only) `userId`'s. */
  const subject = (req: Request, userId: string | undefined): string => {
    if (!userId || userId === 'me' || userId === req.user!.userId) return req.user!.userId;
    if (req.user!.role !== 'admin') throw new HttpProblem(403, 'Forbidden', "Only an administrator can see or end another user's sessions.");
    return userId;
  };

  router.post('/auth/clerk/validate', async (req, res) => {
    const body = parseStrict(validateTokenSchema, req.body ?? {}, 'body');
    let payload: Record<string, unknown>;
    try {
      // The same networkless check the middleware makes (instance key, expiry, azp).
      payload = (await verifyToken(body.token, { jwtKey: auth.jwtKey, authorizedParties: auth.authorizedParties })) as Record<string, unknown>;
    } catch (err) {
      res.json({ valid: false, reason: (err as { reason?: string }).reason ?? 'invalid_token' });
      return;
    }
    if (typeof payload.sub !== 'string') {
      res.json({ valid: false, reason: 'token-invalid-claims' });
      return;
    }
    const claims = claimsOf(payload);
    if (claims.sessionId && (await revocations.isRevoked(claims.sessionId, claims.userId))) {
      res.json({ valid: false, reason: 'session_revoked' });
      return;
    }
    res.json({ valid: true, ...claims });
  });

  router.get('/auth/sessions', async (req, res) => {
    const q = parseStrict(sessionListQuerySchema, req.query, 'query');
    const userId = subject(req, q.userId);
    const items = await sessions.list(userId);
    const current = req.user!.sessionId;
    res.json({ userId, items: items.map((s) => ({ ...s, current: userId === req.user!.userId && s.id === current })) });
  });

  router.get('/auth/sessions/validate', async (req, res) => {
    // The auth handlers verified the token and its session is not revoked; say what it holds.
    const token = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
    const claims = claimsOf(decodeJwt(token) as Record<string, unknown>);
    // Clerk's word on the session too: it may have been ended there (not through this API).
    const status = claims.sessionId ? await sessions.clerkStatus(claims.userId, claims.sessionId) : undefined;
    if (status !== undefined && status !== 'active') {
      throw new HttpProblem(401, 'Unauthorized', 'This session was signed out', { reason: `session_${status}` });
    }
    const recorded = claims.sessionId && auth.local ? await repos.sessions.get(claims.sessionId, claims.userId) : undefined;
    res.json({
      valid: true,
      userId: req.user!.userId,
      role: req.user!.role,
      sessionId: claims.sessionId,
      issuedAt: claims.issuedAt,
      expiresAt: claims.expiresAt,
      issuer: auth.local ? 'local' : 'clerk',
      source: recorded?.source ?? (auth.local ? null : 'clerk'),
    });
  });

  router.post('/auth/sessions/create', async (req, res) => {
    const body = parseStrict(createSessionSchema, req.body ?? {}, 'body');
    if (!auth.local || !auth.devKeys) {
      // Signing in is Clerk's: a client uses Clerk's sign-in (its components or Frontend
      // API) and sends the session token it gets as the bearer token here.
      const host = clerkFrontendHost(auth.publishableKey);
      res.json({
        created: false,
        signIn: 'clerk',
        frontendApi: host ? `https://${host}` : null,
        publishableKey: auth.publishableKey,
        instructions:
          "Sign in with Clerk (ClerkJS / @clerk/clerk-react's <SignIn/>, or Clerk's Frontend API), then send the session token from session.getToken() as 'Authorization: Bearer <token>'. Tokens are short-lived; ClerkJS refreshes them.",
      });
      return;
    }
    // Local key: a new session for the caller (another device, a script), recorded so it can be signed out.
    const ttl = body.ttlSeconds ?? 12 * 3600;
    const sessionId = `sess_api_${randomBytes(12).toString('hex')}`;
    const expiresAt = new Date(Date.now() + ttl * 1000);
    await repos.sessions.record({ id: sessionId, clerkUserId: req.user!.userId, source: 'api', expiresAt });
    const token = await signSessionToken(auth.devKeys, { userId: req.user!.userId, role: req.user!.role, ttlSeconds: ttl, sessionId });
    res.status(201).json({ created: true, signIn: 'local', sessionId, userId: req.user!.userId, token, expiresAt: expiresAt.toISOString() });
  });

  router.delete('/auth/sessions/destroy', async (req, res) => {
    const q = parseStrict(destroySessionQuerySchema, req.query, 'query');
    const userId = subject(req, q.userId);
    const by = req.user!.userId;
    const own = userId === req.user!.userId;
    let revoked: string[];
    if (q.all === 'true') {
      revoked = await sessions.revokeAll(userId, by, own && req.user!.sessionId ? [req.user!.sessionId] : []);
    } else if (q.sessionId) {
      if (!(await sessions.owns(userId, q.sessionId))) throw new HttpProblem(404, 'Not Found', 'Session not found');
      revoked = await sessions.revoke(userId, [q.sessionId], by);
    } else if (own && req.user!.sessionId) {
      revoked = await sessions.revoke(userId, [req.user!.sessionId], by);
    } else {
      throw new HttpProblem(400, 'Invalid request', 'query.sessionId: name a session, or ask for all=true', {
        errors: [{ field: 'query.sessionId', message: 'name a session, or ask for all=true' }],
      });
    }
    const profile = own ? await repos.profiles.ensure({ clerkUserId: userId, role: req.user!.role }) : await repos.profiles.getByClerkId(userId);
    if (profile) {
      await repos.activities.record({
        userId: profile.id,
        type: 'sessions_revoked',
        data: { sessionIds: revoked, all: q.all === 'true', by },
        ipAddress: req.ip,
        userAgent: req.get('user-agent')?.slice(0, 1000),
      });
    }
    res.json({ userId, revoked, all: q.all === 'true' });
  });

  return router;
}
