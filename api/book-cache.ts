/**
 * A cache of what `GET /v1/ebooks/{id}` and `/shared/ebooks/{id}` load from storage
 * (every chapter's paragraphs). Redis when REDIS_URL is set, shared by every API
 * process; otherwise a process-local LRU, as rate limits fall back to a store of
 * their own. Entries are keyed by the book's id, its `updated_at`, its file version
 * and its chapters' text keys: every change of a book moves `updated_at`, so a
 * changed book is a new key and a stale answer cannot be served.
 */
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Ebook } from '../db/repositories';
import type { Logger } from '../lib/logger';
import type { Storage } from '../activities/storage/types';
import { isStorageUnreachable } from '../activities/storage/waits';

export interface BookCache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Drops every cached version of a book's text (an erased book leaves none behind). */
  forget(ebookId: string): Promise<void>;
}

export interface BookCacheOptions {
  redis?: Redis;
  /** Entries of the process-local LRU (default 500). */
  maxEntries?: number;
  /** How long an entry is kept, in Redis or the LRU (default one hour): old keys are never read again, so they just expire. */
  ttlSeconds?: number;
  log?: Logger;
}

const CACHE_PREFIX = 'ebook-chapters:';

/** The cache key of a book as its row stands now. */
export function bookCacheKey(book: Pick<Ebook, 'id' | 'updatedAt' | 'fileVersion' | 'chapters'>): string {
  const texts = createHash('sha256')
    .update(book.chapters.map((c) => c.textKey ?? '').join('\n'))
    .digest('hex')
    .slice(0, 16);
  return `${CACHE_PREFIX}${book.id}:${book.updatedAt}:v${book.fileVersion}:${texts}`;
}

export function createBookCache(opts: BookCacheOptions = {}): BookCache {
  const { redis } = opts;
  if (redis) {
    const ttl = opts.ttlSeconds ?? 3600;
    // A Redis outage makes every read a miss (the answer is computed as without a cache), never an
    // error; while the client knows Redis is away (it logs that once) nothing is even tried.
    const away = () => redis.status !== 'ready';
    return {
      kind: 'redis',
      async get(key) {
        if (away()) return undefined;
        try {
          return (await redis.get(key)) ?? undefined;
        } catch (err) {
          opts.log?.warn({ err }, 'book cache read failed');
          return undefined;
        }
      },
      async set(key, value) {
        if (away()) return;
        try {
          await redis.set(key, value, 'EX', ttl);
        } catch (err) {
          opts.log?.warn({ err }, 'book cache write failed');
        }
      },
      async forget(ebookId) {
        try {
          // A book has a handful of keys at most (one per version read), so one SCAN pass.
          let cursor = '0';
          do {
            const [next, found] = await redis.scan(cursor, 'MATCH', `${CACHE_PREFIX}${ebookId}:*`, 'COUNT', 1000);
            if (found.length) await redis.del(...found);
            cursor = next;
          } while (cursor !== '0');
        } catch (err) {
          // The entries expire within the TTL anyway, and no read finds them once the row is gone.
          opts.log?.warn({ err }, 'book cache forget failed');
        }
      },
    };
  }
  // Bounded in entries and in age, like the Redis keys: a changed book is a new key, so
  // the age bound only frees what nobody reads any more.
  const entries = new LRUCache<string, string>({ max: opts.maxEntries ?? 500, ttl: (opts.ttlSeconds ?? 3600) * 1000 });
  return {
    kind: 'memory',
    async get(key) {
      return entries.get(key);
    },
    async set(key, value) {
      entries.set(key, value);
    },
    async forget(ebookId) {
      for (const key of [...entries.keys()]) if (key.startsWith(`${CACHE_PREFIX}${ebookId}:`)) entries.delete(key);
    },
  };
}

const CACHEABLE: readonly string[] = ['completed', 'failed', 'cancelled'];

/**
 * Each chapter's paragraphs (undefined where a chapter has no text yet), from the
 * cache when this version of the book was read before. A book still being
 * generated changes every few seconds and is read from storage; so is anything
 * storage failed to return, which is not cached either.
 */
export async function chapterParagraphs(
  book: Pick<Ebook, 'id' | 'status' | 'updatedAt' | 'fileVersion' | 'chapters'>,
  storage: Pick<Storage, 'get'>,
  cache: BookCache,
): Promise<Array<string[] | undefined>> {
  const cacheable = CACHEABLE.includes(book.status);
  const key = bookCacheKey(book);
  if (cacheable) {
    const hit = await cache.get(key);
    if (hit !== undefined) return (JSON.parse(hit) as Array<string[] | null>).map((p) => p ?? undefined);
  }
  let complete = true;
  const loaded = await Promise.all(
    book.chapters.map(async (c) => {
      if (!c.textKey) return undefined;
      try {
        return (JSON.parse((await storage.get(c.textKey)).toString('utf8')) as { paragraphs: string[] }).paragraphs;
      } catch (err) {
        // A store that does not answer is a 503 (try again), not a book without its text.
        if (isStorageUnreachable(err)) throw err;
        complete = false;
        return undefined;
      }
    }),
  );
  if (cacheable && complete) await cache.set(key, JSON.stringify(loaded));
  return loaded;
}
