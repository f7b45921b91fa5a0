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

type Req = Parameters<RequestHandler>[0];
type Res = Parameters<RequestHandler>[1];

/** The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): limit, what is left, seconds to the reset, the policy. */
function setRateLimitHeaders(res: Res, points: number, state: RateLimiterRes): void {
  res.setHeader('RateLimit-Limit', String(points));
  res.setHeader('RateLimit-Remaining', String(Math.max(0, state.remainingPoints)));
  res.setHeader('RateLimit-Reset', String(Math.max(0, Math.ceil(state.msBeforeNext / 1000))));
  res.setHeader('RateLimit-Policy', `${points};w=60`);
}

/**
 * Per-address limits before authentication and per-user limits after it; 429 with Retry-After.
 * `both` takes the two at once, for a request whose user is already known (a token
 * that verified before): one round trip to the store instead of two in a row.
 */
export function createRateLimits(opts: RateLimitOptions): {
  perIp: RequestHandler;
  perUser: RequestHandler;
  both: RequestHandler;
} {
  const ip = limiter(opts, 'rl-ip', opts.ipPerMinute);
  const user = limiter(opts, 'rl-user', opts.userPerMinute);
  const limits = [
    { l: ip, keyOf: (req: Req) => req.ip ?? 'unknown', who: 'address' },
    { l: user, keyOf: (req: Req) => req.user!.userId, who: 'user' },
  ];
  const consume =
    (which: typeof limits): RequestHandler =>
    async (req, res, next) => {
      // Started together: with Redis auto-pipelining they leave in one write.
      const results = await Promise.allSettled(which.map(({ l, keyOf }) => l.consume(keyOf(req))));
      // The limit closest to running out is the one the headers describe.
      let closest: { points: number; state: RateLimiterRes } | undefined;
      for (const [i, r] of results.entries()) {
        if (r.status === 'fulfilled') {
          if (!closest || r.value.remainingPoints < closest.state.remainingPoints) closest = { points: which[i].l.points, state: r.value };
          continue;
        }
        const err: unknown = r.reason;
        if (!(err instanceof RateLimiterRes)) throw err;
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        setRateLimitHeaders(res, which[i].l.points, err);
        res.setHeader('Retry-After', String(seconds));
        throw new HttpProblem(429, 'Too Many Requests', `Too many requests from this ${which[i].who}; retry in ${seconds} s.`, {
          retryAfterSeconds: seconds,
        });
      }
      if (closest) setRateLimitHeaders(res, closest.points, closest.state);
      next();
    };
  return { perIp: consume([limits[0]]), perUser: consume([limits[1]]), both: consume(limits) };
}
