/**
 * Who owns sessions, as a rule the session and user routes share: with a Clerk
 * instance, Clerk (listed and revoked through its Backend API, `@clerk/express`'s
 * client); with the local key, the engine's own auth_sessions. A revocation is
 * recorded in auth_sessions either way and told to this process's revocation
 * cache, so the session's tokens are refused at once (Clerk's tokens would
 * otherwise live on for up to a minute, the local key's for hours).
 */
import { createClerkClient, type ClerkClient } from '@clerk/express';
import type { Repositories } from '../../db/repositories';
import type { Logger } from '../../lib/logger';
import type { AuthSettings } from '../auth';
import type { Revocations } from '../session-revocations';
import { HttpProblem } from '../problem';

export interface SessionView {
  id: string;
  status: string;
  source: string;
  createdAt: string | null;
  expiresAt: string | null;
  lastActiveAt: string | null;
}

export interface SessionControl {
  /** Clerk's Backend API client; undefined with the local key. */
  clerk: ClerkClient | undefined;
  /** A user's live sessions. */
  list(userId: string): Promise<SessionView[]>;
  /** Whether `sessionId` is one of `userId`'s sessions (live or not). */
  owns(userId: string, sessionId: string): Promise<boolean>;
  /**
   * With Clerk, the session's status at Clerk ('active', 'revoked', 'ended'...); a
   * session Clerk ended another way (its dashboard, the user elsewhere) is recorded as
   * revoked here, so its tokens are refused from now on. Undefined with the local key.
   */
  clerkStatus(userId: string, sessionId: string): Promise<string | undefined>;
  /** Revokes these sessions of the user; the ids newly revoked. */
  revoke(userId: string, sessionIds: string[], by: string): Promise<string[]>;
  /** Revokes every session of the user ("sign out everywhere"); the ids newly revoked. */
  revokeAll(userId: string, by: string, alsoIds?: string[]): Promise<string[]>;
}

export function createSessionControl(deps: { repos: Repositories; auth: AuthSettings; revocations: Revocations; log: Logger }): SessionControl {
  const { repos, revocations } = deps;
  const clerk = deps.auth.local ? undefined : createClerkClient({ secretKey: deps.auth.secretKey, apiUrl: deps.auth.apiUrl });

  /** A Backend API failure is the upstream's, not the caller's. */
  const upstream = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if ((err as { status?: number }).status === 404) throw new HttpProblem(404, 'Not Found', 'Session not found');
      deps.log.warn({ err }, `Clerk ${what} failed`);
      throw new HttpProblem(502, 'Bad Gateway', `Clerk's Backend API did not ${what}; try again.`);
    }
  };
  const at = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

  const control: SessionControl = {
    clerk,
    async list(userId) {
      if (clerk) {
        const page = await upstream('list the sessions', () => clerk.sessions.getSessionList({ userId, status: 'active', limit: 100 }));
        return page.data.map((s) => ({
          id: s.id,
          status: s.status,
          source: 'clerk',
          createdAt: at(s.createdAt),
          expiresAt: at(s.expireAt),
          lastActiveAt: at(s.lastActiveAt),
        }));
      }
      return (await repos.sessions.listActive(userId)).map((s) => ({
        id: s.id,
        status: 'active',
        source: s.source,
        createdAt: s.createdAt,
        expiresAt: s.expiresAt,
        lastActiveAt: null,
      }));
    },

    async owns(userId, sessionId) {
      if (!clerk) return Boolean(await repos.sessions.get(sessionId, userId));
      try {
        // Clerk's session ids are global: one of somebody else's is not this user's.
        return (await clerk.sessions.getSession(sessionId)).userId === userId;
      } catch (err) {
        if ((err as { status?: number }).status === 404) return false;
        return upstream('find the session', () => Promise.reject(err));
      }
    },

    async clerkStatus(userId, sessionId) {
      if (!clerk) return undefined;
      const session = await upstream('find the session', () => clerk.sessions.getSession(sessionId));
      const status = session.userId === userId ? session.status : 'unknown';
      if (status !== 'active') {
        await repos.sessions.revoke(sessionId, userId, 'clerk', 'clerk');
        revocations.markRevoked(sessionId, userId);
      }
      return status;
    },

    async revoke(userId, sessionIds, by) {
      const revoked: string[] = [];
      for (const id of sessionIds) {
        if (clerk) {
          const session = await upstream('find the session', () => clerk.sessions.getSession(id));
          if (session.userId !== userId) throw new HttpProblem(404, 'Not Found', 'Session not found');
          if (session.status === 'active') await upstream('revoke the session', () => clerk.sessions.revokeSession(id));
        }
        if (await repos.sessions.revoke(id, userId, by, clerk ? 'clerk' : 'api')) revoked.push(id);
        revocations.markRevoked(id, userId);
      }
      return revoked;
    },

    async revokeAll(userId, by, alsoIds = []) {
      const live = (await control.list(userId)).map((s) => s.id);
      // Clerk lists every live session of its own; the extra ids are the local key's unrecorded ones.
      const revoked = await control.revoke(userId, clerk ? live : [...new Set([...live, ...alsoIds])], by);
      // Local sessions past the list's limit, or recorded but never listed.
      for (const id of await repos.sessions.revokeAll(userId, by)) {
        revocations.markRevoked(id, userId);
        if (!revoked.includes(id)) revoked.push(id);
      }
      return revoked;
    },
  };
  return control;
}
