import { clerkMiddleware, getAuth } from '@clerk/express';
import type { RequestHandler } from 'express';
import { HttpProblem } from './problem';

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
}

/**
 * Verifies the bearer session token with Clerk's middleware, networklessly
 * against the instance's PEM key, and answers 401 itself (an API does not redirect
 * to a sign-in page). The role comes only from the verified claims.
 */
export function requireUser(settings: AuthSettings): RequestHandler[] {
  const clerk = clerkMiddleware({
    jwtKey: settings.jwtKey,
    secretKey: settings.secretKey,
    publishableKey: settings.publishableKey,
    authorizedParties: settings.authorizedParties,
  });
  const check: RequestHandler = (req, _res, next) => {
    const auth = getAuth(req);
    if (!auth.userId) {
      next(
        new HttpProblem(401, 'Unauthorized', 'A valid bearer session token is required', {
          reason: req.headers.authorization ? 'invalid_token' : 'missing_token',
        }),
      );
      return;
    }
    const claims = (auth.sessionClaims ?? {}) as { metadata?: { role?: unknown }; role?: unknown };
    const role = claims.metadata?.role ?? claims.role;
    req.user = {
      userId: auth.userId,
      role: role === 'admin' ? 'admin' : 'user',
      sessionId: auth.sessionId ?? undefined,
    };
    next();
  };
  return [clerk, check];
}
