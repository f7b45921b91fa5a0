/**
 * The API's Redis client (rate limits, the chapter-text cache). Redis is an
 * accelerator here, never a requirement: while it is unreachable every command
 * fails at once (no offline queue), the rate limits fall back to each process's
 * memory and the cache to storage, and the client keeps reconnecting in the
 * background, so everything uses Redis again as soon as it answers.
 */
import Redis from 'ioredis';
import type { Logger } from '../lib/logger';

export function createApiRedis(url: string, log?: Pick<Logger, 'warn' | 'info'>): Redis {
  // Auto-pipelining: the rate limiters' commands of requests arriving together go out in
  // one write, not one socket write each (a syscall per command was a tenth of the
  // API's CPU under load).
  const redis = new Redis(url, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    // Reconnect for ever, at most every 2 s.
    retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)),
  });
  // One line when Redis goes away and one when it is back, not one per reconnect attempt.
  let down = false;
  redis.on('error', (err) => {
    if (down) return;
    down = true;
    log?.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'redis unreachable: rate limits per process, cache off, until it is back');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log?.info('redis reachable again');
  });
  return redis;
}
