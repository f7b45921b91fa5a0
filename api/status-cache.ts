/**
 * The status documents `GET /v1/ebooks/{id}/status` answered in the last second,
 * per process. Frontends poll status every second or two, and a book's progress
 * also streams over SSE; one database read per book per second serves any number
 * of pollers, and an answer served from here costs no database or JSON work
 * (the body and its ETag are kept as sent).
 *
 * An entry remembers its owner, so it answers only the user the database said
 * owns the book. Any change this process makes to a book (every non-GET request
 * under /v1/ebooks/{id}) drops the book's entry before and after it runs, so a
 * client reads its own writes; a change made elsewhere (the worker, another API
 * process) shows within `ttlMs`.
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { LRUCache } from 'lru-cache';

export interface CachedStatus {
  body: string;
  etag: string;
}

export interface StatusCache {
  /** The cached answer for this book and user, if fresh. */
  get(ebookId: string, clerkUserId: string): CachedStatus | undefined;
  /**
   * The cached answer, or `load`'s (then cached): polls that miss together share
   * one load. `load` throws for a book the user may not see; nothing is cached then.
   */
  load(ebookId: string, clerkUserId: string, load: () => Promise<{ id: string; doc: unknown }>): Promise<CachedStatus>;
  /** Remembers a status document; returns it as it is to be sent. */
  set(ebookId: string, clerkUserId: string, doc: unknown): CachedStatus;
  delete(ebookId: string): void;
  /** Drops the entry of the book a mutating request under /ebooks/{id} is about. */
  invalidateOnChange: RequestHandler;
  readonly size: number;
}

export interface StatusCacheOptions {
  /** How long an entry answers (default 1,000 ms; 0 turns the cache off). */
  ttlMs?: number;
  /** Entries kept at most; the least recently used go first (default 10,000). */
  maxEntries?: number;
  now?: () => number;
}

function answerOf(doc: unknown): CachedStatus {
  const body = JSON.stringify(doc);
  return { body, etag: `W/"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"` };
}

const BOOK_PATH = /^\/ebooks\/([0-9a-fA-F-]{36})(?:\/|$)/;

export function createStatusCache(opts: StatusCacheOptions = {}): StatusCache {
  const ttlMs = opts.ttlMs ?? 1000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new LRUCache<string, CachedStatus & { owner: string }>({
    max: maxEntries,
    // Read the clock on every check (no 1 ms reuse of the last reading), so an injected clock is exact.
    ttlResolution: 0,
    ...(opts.now ? { perf: { now: opts.now } } : {}),
  });
  const loading = new Map<string, Promise<CachedStatus>>();
  /** Moves on every drop: a load that started before a change must not cache what it read. */
  let epoch = 0;

  const cache: StatusCache = {
    get(ebookId, clerkUserId) {
      const id = ebookId.toLowerCase();
      // An expired entry is dropped as it is met.
      const e = entries.get(id);
      return e?.owner === clerkUserId ? { body: e.body, etag: e.etag } : undefined;
    },
    set(ebookId, clerkUserId, doc) {
      const { body, etag } = answerOf(doc);
      if (ttlMs > 0) {
        // Lives 75-100% of ttlMs: entries made together (a page of books opened at once)
        // do not all expire, and go to the database, in the same instant again and again.
        const life = ttlMs * (0.75 + Math.random() * 0.25);
        entries.set(ebookId.toLowerCase(), { body, etag, owner: clerkUserId }, { ttl: life });
      }
      return { body, etag };
    },
    load(ebookId, clerkUserId, load) {
      const hit = cache.get(ebookId, clerkUserId);
      if (hit) return Promise.resolve(hit);
      const key = `${ebookId.toLowerCase()} ${clerkUserId}`;
      let pending = loading.get(key);
      if (!pending) {
        const started = epoch;
        const mine: Promise<CachedStatus> = load()
          .then(({ id, doc }) => (epoch === started ? cache.set(id, clerkUserId, doc) : answerOf(doc)))
          .finally(() => {
            if (loading.get(key) === mine) loading.delete(key);
          });
        pending = mine;
        loading.set(key, pending);
      }
      return pending;
    },
    delete(ebookId) {
      const id = ebookId.toLowerCase();
      epoch++;
      entries.delete(id);
      for (const key of loading.keys()) if (key.startsWith(`${id} `)) loading.delete(key);
    },
    invalidateOnChange(req, res, next) {
      if (req.method === 'GET' || req.method === 'HEAD') return next();
      const id = BOOK_PATH.exec(req.path)?.[1];
      if (id) {
        cache.delete(id);
        // 'finish' before the client can have the answer; 'close' also when it went away first.
        const drop = () => cache.delete(id);
        res.on('finish', drop);
        res.on('close', drop);
      }
      next();
    },
    get size() {
      return entries.size;
    },
  };
  return cache;
}
