import { clerkMiddleware, getAuth } from '@clerk/express';
import type { RequestHandler } from 'express';
import { HttpProblem } from './problem';
import type { DevKeys } from '../lib/dev-keys';
import type { Revocations } from './session-revocations';

export interface AuthUser {
  /** The Clerk user id (`sub`). */
  userId: string;
  role: 'user' | 'admin';
  sessionId?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      user?: AuthUser;
    }
  }
}

export interface AuthSettings {
  jwtKey: string;
  secretKey: string;
  publishableKey: string;
  authorizedParties?: string[];
  /** The local stand-in key is in use (no Clerk instance): sessions are issued here. */
  local?: boolean;
  /** The local key pair, to issue sessions with (local only). */
  devKeys?: DevKeys;
  /** Clerk's Backend API (default https://api.clerk.com); tests point it at a local server. */
  apiUrl?: string;
}

/** Verified tokens kept at most this long (and never past their own expiry). */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

/**
 * Verifies the bearer session token with Clerk's middleware, networklessly
 * against the instance's PEM key, and answers 401 itself (an API does not redirect
 * to a sign-in page). The role comes only from the verified claims.
 *
 * A token that verified is remembered until its own expiry (at most a minute):
 * a session token is a signed, self-contained claim, so a second check of the
 * same string can only give the same answer, and a page polling its book's
 * status sends the same token many times a minute. Anything not remembered
 * (new, expired, forged) goes through Clerk's full verification.
 *
 * Every request's session is then checked against the revoked sessions
 * (./session-revocations.ts, a short in-process cache over auth_sessions), so a
 * signed-out session is refused at once rather than when its tokens expire.
 */
export interface Auth {
  /** Verify (or recall) the token, then 401 or `req.user`. */
  handlers: RequestHandler[];
  /** The user of a token that verified before and has not expired; no verification here. */
  remembered(req: { headers: { authorization?: string } }): AuthUser | undefined;
}

export function createAuth(settings: AuthSettings, opts: { revocations?: Revocations } = {}): Auth {
  const clerk = clerkMiddleware({
    jwtKey: settings.jwtKey,
    secretKey: settings.secretKey,
    publishableKey: settings.publishableKey,
    authorizedParties: settings.authorizedParties,
  });
  const verified = new Map<string, { user: AuthUser; until: number }>();
  const recall = (header: string | undefined): AuthUser | undefined => {
    const hit = header ? verified.get(header) : undefined;
    if (hit && hit.until > Date.now()) return hit.user;
    if (hit) verified.delete(header!);
    return undefined;
  };
  const remembered: RequestHandler = (req, res, next) => {
    const user = recall(req.headers.authorization);
    if (user) {
      req.user = user;
      next();
      return;
    }
    clerk(req, res, next);
  };
  const check: RequestHandler = (req, _res, next) => {
    if (req.user) return next(); // remembered above
    const auth = getAuth(req);
    if (!auth.userId) {
      next(
        new HttpProblem(401, 'Unauthorized', 'A valid bearer session token is required', {
          reason: req.headers.authorization ? 'invalid_token' : 'missing_token',
        }),
      );
      return;
    }
    const claims = (auth.sessionClaims ?? {}) as { metadata?: { role?: unknown }; role?: unknown; exp?: unknown };
    const role = claims.metadata?.role ?? claims.role;
    req.user = {
      userId: auth.userId,
      role: role === 'admin' ? 'admin' : 'user',
      sessionId: auth.sessionId ?? undefined,
    };
    const header = req.headers.authorization;
    if (header && typeof claims.exp === 'number') {
      const until = Math.min(claims.exp * 1000, Date.now() + VERIFIED_TTL_MS);
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
      verified.set(header, { user: req.user, until });
    }
    next();
  };
  // Runs for remembered tokens too: a revoked session is refused on its next request.
  const notRevoked: RequestHandler = (req, _res, next) => {
    const sid = req.user?.sessionId;
    if (!sid || !opts.revocations) return next();
    opts.revocations.isRevoked(sid, req.user!.userId).then(
      (revoked) => next(revoked ? new HttpProblem(401, 'Unauthorized', 'This session was signed out', { reason: 'session_revoked' }) : undefined),
      next,
    );
  };
  return { handlers: [remembered, check, notRevoked], remembered: (req) => recall(req.headers.authorization) };
}
