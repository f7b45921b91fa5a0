/**
 * The HTTP API as an Express app: request ids and logs, metrics, security headers,
 * CORS, health, rate limits, auth, the routes by resource and the one
 * problem+json error handler. Only api/main.ts listens, so tests mount it anywhere.
 */
import { randomUUID } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import { createApiMetrics } from './metrics';
import { openApiDocument, OPERATIONS } from './openapi';
import { refuseUnsafeBody, refuseUnsafePathAndQuery } from './safe-text';
import { answerOptions, methodNotAllowed } from './method-not-allowed';
import { compress, requireJsonBody } from './http-rules';
import { streamTokens } from './stream-tokens';
import { createRateLimits } from './rate-limit';
import { createWebRouter } from './web';
import { ensureDevKeys } from '../lib/dev-keys';
import type Redis from 'ioredis';
import type { Client } from '@temporalio/client';
import type { Services } from '../wiring/services';
import type { Logger } from '../lib/logger';
import { createAuth, type AuthSettings } from './auth';
import { errorHandler, HttpProblem, sendProblem } from './problem';
import { ebookRouter, sharedRouter } from './routes/ebooks';
import { userRouter } from './routes/users';
import { aiRouter } from './routes/ai';
import { storyRouter } from './routes/stories';
import { profileRouter } from './routes/profiles';
import { clerkWebhookRouter } from './routes/webhooks';
import { createBookCache } from './book-cache';
import { createStatusCache } from './status-cache';
import { storyGenerationRouter } from './routes/story-generation';
import { storyReviewRouter } from './routes/story-review';
import { aiGenerateRouter } from './routes/ai-generate';
import { createRevocations } from './session-revocations';
import { sessionRouter } from './routes/sessions';
import { adminUserRouter } from './routes/admin-users';
import { createSessionControl } from './services/sessions';
import { aiServiceRouter } from './routes/ai-services';

export interface AppDeps {
  services: Services;
  temporal: Client;
  auth: AuthSettings;
  log: Logger;
  taskQueue: string;
  /** The paid plans' queue; unset sends every book to `taskQueue`. */
  priorityTaskQueue?: string;
  chapterConcurrency: number;
  /** REVIEW_TIMEOUT: how long a book started with a review waits for it (default 7 days). */
  reviewTimeoutMs?: number;
  /** Browser origins allowed by CORS; none when empty. */
  corsOrigins?: string[];
  /** CLERK_WEBHOOK_SIGNING_SECRET; unset answers the webhook with 503. */
  webhookSigningSecret?: string;
  rateLimits?: { userPerMinute: number; ipPerMinute: number };
  /** Shared store for rate limits when REDIS_URL is set. */
  redis?: Redis;
  /** Serve the web page at / (with local one-time sign-in links when Clerk is not configured). */
  web?: { dataDir: string; clerkPublishableKey?: string };
  /** Signs the event-stream tokens (api/stream-tokens.ts); the same in every API process. Unset: random, this process only. */
  streamTokenSecret?: string;
  /** How long the AI routes wait for their workflow's answer (default 60 s). */
  aiWaitMs?: number;
}

/** The Express app; only the entry point listens, so tests mount it on any port. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  const requestId: RequestHandler = (req, res, next) => {
    const given = req.get('x-request-id');
    req.id = given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      deps.log.info(
        {
          requestId: req.id,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          userId: req.user?.userId,
        },
        'request',
      );
    });
    next();
  };
  app.use(requestId);
  const metrics = createApiMetrics();
  app.use(metrics.middleware);
  app.use(
    helmet({
      // The web page shows covers and downloads fetched with the bearer token as blob: URLs.
      contentSecurityPolicy: { directives: { imgSrc: ["'self'", 'data:', 'blob:'] } },
    }),
  );
  app.use(cors(deps.corsOrigins ?? []));
  app.use(compress());
  // NUL and lone surrogates in a path or query are a 400 naming the field, before any route.
  app.use(refuseUnsafePathAndQuery(OPERATIONS.map((op) => op.path)));
  app.use(answerOptions(OPERATIONS));
  // Before the routes: PUT /v1/stories/generate would otherwise reach PUT /v1/stories/{id}.
  app.use(methodNotAllowed(OPERATIONS));
  app.get('/metrics', metrics.handler);
  const openapi = openApiDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (req, res) => {
    const checks = await readiness(deps);
    // Redis only speeds things up (rate limits, cache, live events all have a fallback):
    // without it the API is degraded, not unready, so a balancer keeps sending traffic.
    const failed = Object.entries(checks).filter(([k, v]) => v !== 'ok' && k !== 'redis');
    const degraded = checks.redis !== undefined && checks.redis !== 'ok' ? ['redis'] : [];
    if (failed.length === 0) {
      res.json({ status: 'ready', checks, ...(degraded.length ? { degraded } : {}) });
      return;
    }
    sendProblem(req, res, 503, 'Service Unavailable', `Not ready: ${failed.map(([k]) => k).join(', ')}`, { checks });
  });

  const limits = createRateLimits({
    userPerMinute: deps.rateLimits?.userPerMinute ?? 600,
    ipPerMinute: deps.rateLimits?.ipPerMinute ?? 1200,
    redis: deps.redis,
    knex: deps.services.knex,
  });
  const revocations = createRevocations(deps.services.repos);
  const auth = createAuth(deps.auth, { revocations });
  // A token that verified before names its user already: both limits in one round trip.
  // Anything else is limited per address before its token is verified.
  app.use('/v1', (req, res, next) => {
    const user = auth.remembered(req);
    if (!user) return limits.perIp(req, res, next);
    req.user = user;
    res.locals.userLimitTaken = true;
    return limits.both(req, res, next);
  });

  // The only /v1 route without a bearer token: Clerk calls it, signed by Svix.
  const erasure = { temporal: deps.temporal, taskQueue: deps.taskQueue };
  app.use('/v1', clerkWebhookRouter({ services: deps.services, signingSecret: deps.webhookSigningSecret, log: deps.log, erasure }));

  // One cache of chapter text for the owner's and the public reads (Redis when configured).
  const bookCache = createBookCache({ redis: deps.redis, log: deps.log });
  // Public books, no token: the per-address limit applies.
  app.use('/shared', limits.perIp);
  app.use(sharedRouter({ services: deps.services, bookCache, log: deps.log }));

  // Status polls read a book's row once per second per process, whatever the number of pollers.
  const statusCache = createStatusCache();
  const tokens = streamTokens(deps.services.repos, deps.streamTokenSecret);
  app.use('/v1', tokens.accept);
  const v1 = express.Router();
  v1.use(...auth.handlers);
  v1.use((req, res, next) => (res.locals.userLimitTaken ? next() : limits.perUser(req, res, next)));
  v1.use(requireJsonBody, express.json({ limit: '64kb' }));
  v1.use(refuseUnsafeBody);
  v1.use(statusCache.invalidateOnChange);
  // Every /v1/ebooks route: the book, its steps, publishing, illustrations.
  v1.use(ebookRouter({ ...deps, bookCache, statusCache }));
  v1.use(userRouter(deps.services, erasure));
  v1.use(aiRouter(deps));
  v1.use(storyRouter(deps.services));
  v1.use(profileRouter(deps.services));
  v1.use(storyGenerationRouter(deps));
  v1.use(storyReviewRouter(deps));
  v1.use(aiGenerateRouter(deps));
  const sessions = createSessionControl({ repos: deps.services.repos, auth: deps.auth, revocations, log: deps.log });
  v1.use(sessionRouter({ ...deps, revocations, sessions }));
  v1.use(adminUserRouter({ ...deps, sessions, erasure }));
  v1.use(aiServiceRouter(deps));
  v1.use(tokens.router);
  app.use('/v1', v1);
  if (deps.web) {
    app.use(
      createWebRouter({
        devKeys: ensureDevKeys(deps.web.dataDir),
        dataDir: deps.web.dataDir,
        clerkPublishableKey: deps.web.clerkPublishableKey,
        recordSession: (s) => deps.services.repos.sessions.record({ ...s, source: 'signin-link' }),
      }),
    );
  }

  app.use((req, _res, next) => next(new HttpProblem(404, 'Not Found', `No route for ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.log));
  return app;
}

async function readiness(deps: AppDeps): Promise<Record<string, string>> {
  const check = async (fn: () => Promise<unknown>): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        fn(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), 2000);
        }),
      ]);
      return 'ok';
    } catch (err) {
      return err instanceof Error ? err.message.slice(0, 200) : 'failed';
    } finally {
      clearTimeout(timer);
    }
  };
  const redis = deps.redis;
  const [temporal, database, storage, cache] = await Promise.all([
    check(() => deps.temporal.workflowService.getSystemInfo({})),
    check(() => deps.services.knex.raw('select 1')),
    check(() => deps.services.storage.ping()),
    redis ? check(() => redis.ping()) : Promise.resolve(undefined),
  ]);
  return { temporal, database, storage, ...(cache === undefined ? {} : { redis: cache }) };
}

/**
 * CORS for an allow-list of origins only: a listed origin gets the headers
 * (and preflights an empty 204), anything else gets none, so browsers refuse it.
 * A preflight from another origin is refused here (403), before auth and rate
 * limits: it carries no token and should spend nobody's allowance.
 */
function cors(origins: string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('origin');
    const preflight = req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;
    if (origin && preflight && !allowed.has(origin)) {
      sendProblem(req, res, 403, 'Forbidden', `Origin ${origin} is not allowed`);
      return;
    }
    if (!origin || !allowed.has(origin)) return next();
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.append('Vary', 'Origin');
    res.setHeader(
      'Access-Control-Expose-Headers',
      'Location, ETag, Retry-After, X-Request-Id, Idempotent-Replayed, Content-Disposition, X-Image-Alt, ' +
        'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy',
    );
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID, If-None-Match');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
