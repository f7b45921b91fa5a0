/**
 * Whether a token's session was revoked, asked on every authenticated request,
 * so it must be cheap: answers are kept in-process for a short while (a revoked
 * answer for good: a session is never un-revoked). The process that revokes
 * knows at once; the others within `ttlMs` (2 s by default), far sooner than a
 * token's own expiry (hours for the local key's).
 */
import { LRUCache } from 'lru-cache';
import type { Repositories } from '../db/repositories';

export interface Revocations {
  isRevoked(sessionId: string, userId: string): Promise<boolean>;
  /** This process revoked it: refuse its tokens here without waiting for the cache. */
  markRevoked(sessionId: string, userId: string): void;
}

export function createRevocations(repos: Pick<Repositories, 'sessions'>, opts: { ttlMs?: number; max?: number } = {}): Revocations {
  const ttl = opts.ttlMs ?? 2000;
  const cache = new LRUCache<string, boolean>({ max: opts.max ?? 50_000 });
  // Concurrent requests of one session share a lookup.
  const pending = new Map<string, Promise<boolean>>();
  return {
    async isRevoked(sessionId, userId) {
      // A session id means something only with its user: nobody revokes another's by its id.
      const key = `${userId}\u0000${sessionId}`;
      const known = cache.get(key);
      if (known !== undefined) return known;
      let lookup = pending.get(key);
      if (!lookup) {
        lookup = repos.sessions.isRevoked(sessionId, userId).finally(() => pending.delete(key));
        pending.set(key, lookup);
      }
      const revoked = await lookup;
      cache.set(key, revoked, { ttl: revoked ? 0 : ttl });
      return revoked;
    },
    markRevoked(sessionId, userId) {
      cache.set(`${userId}\u0000${sessionId}`, true, { ttl: 0 });
    },
  };
}
