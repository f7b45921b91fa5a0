import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import type Redis from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { HttpProblem } from './problem';

export interface RateLimitOptions {
  userPerMinute: number;
  ipPerMinute: number;
  /** Redis when configured; PostgreSQL (shared by every API process) otherwise. */
  redis?: Redis;
  knex: Knex;
}

function limiter(opts: RateLimitOptions, keyPrefix: string, points: number): RateLimiterAbstract {
  const common = {
    keyPrefix,
    points,
    duration: 60,
    // If the shared store is down, limit per process rather than fail every request.
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: 60 }),
  };
  if (opts.redis) return new RateLimiterRedis({ ...common, storeClient: opts.redis, rejectIfRedisNotReady: true });
  return new RateLimiterPostgres({
    ...common,
    storeClient: opts.knex,
    storeType: 'knex',
    tableName: 'rate_limits',
    tableCreated: true,
    clearExpiredByTimeout: false,
  });
}

/** Per-address limits before authentication and per-user limits after it; 429 with Retry-After. */
export function createRateLimits(opts: RateLimitOptions): { perIp: RequestHandler; perUser: RequestHandler } {
  const ip = limiter(opts, 'rl-ip', opts.ipPerMinute);
  const user = limiter(opts, 'rl-user', opts.userPerMinute);
  const consume =
    (l: RateLimiterAbstract, keyOf: (req: Parameters<RequestHandler>[0]) => string, who: string): RequestHandler =>
    async (req, res, next) => {
      try {
        const r = await l.consume(keyOf(req));
        res.setHeader('RateLimit-Remaining', String(r.remainingPoints));
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        res.setHeader('Retry-After', String(seconds));
        throw new HttpProblem(429, 'Too Many Requests', `Too many requests from this ${who}; retry in ${seconds} s.`, {
          retryAfterSeconds: seconds,
        });
      }
      next();
    };
  return {
    perIp: consume(ip, (req) => req.ip ?? 'unknown', 'address'),
    perUser: consume(user, (req) => req.user!.userId, 'user'),
  };
}
