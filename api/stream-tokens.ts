/**
 * Event streams for a browser's own EventSource, which cannot send an
 * Authorization header: the owner asks (with their bearer token) for a stream
 * token, a short-lived HMAC-signed grant to read one book's events and nothing
 * else, and opens `/v1/ebooks/{id}/events?streamToken=…`. The token names the
 * book, the user and its expiry; any other route ignores it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { Repositories } from '../db/repositories';
import { HttpProblem } from './problem';
import { findOwnBook } from './routes/helpers/books';
import type { StreamToken } from './schemas/ebooks';

/** Long enough to open (and reopen) a stream; a reader that needs longer asks again. */
const TTL_SECONDS = 300;
const EVENTS_PATH = /^\/ebooks\/([^/]+)\/events$/;

export interface StreamTokens {
  /** `POST /ebooks/{id}/events/token` (behind the bearer-token check). */
  router: Router;
  /** Before the bearer-token check: a valid `?streamToken=` on a book's event stream names its user. */
  accept: RequestHandler;
}

/** `secret` must be the same in every API process (a random one serves one process only). */
export function streamTokens(repos: Pick<Repositories, 'ebooks'>, secret: string = randomBytes(32).toString('hex')): StreamTokens {
  // Its own key, derived: the secret it comes from may serve other purposes too.
  const key = createHmac('sha256', secret).update('ebook-event-stream-token').digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');

  const router = Router();
  router.post('/ebooks/:id/events/token', async (req, res) => {
    const book = await findOwnBook(repos, req);
    const exp = Math.floor(Date.now() / 1000) + TTL_SECONDS;
    const payload = Buffer.from(JSON.stringify({ b: book.id, u: req.user!.userId, e: exp })).toString('base64url');
    const token = `${payload}.${mac(payload)}`;
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      token,
      expiresAt: new Date(exp * 1000).toISOString(),
      url: `/v1/ebooks/${book.id}/events?streamToken=${token}`,
    } satisfies StreamToken);
  });

  const accept: RequestHandler = (req, _res, next) => {
    const given = req.query.streamToken;
    const book = EVENTS_PATH.exec(req.path)?.[1];
    if (typeof given !== 'string' || req.method !== 'GET' || !book || req.get('authorization')) return next();
    const [payload, sig = ''] = given.split('.');
    const expected = Buffer.from(mac(payload ?? ''));
    const grant = (() => {
      if (!payload || sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), expected)) return undefined;
      try {
        return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { b?: unknown; u?: unknown; e?: unknown };
      } catch {
        return undefined;
      }
    })();
    if (!grant || grant.b !== book || typeof grant.u !== 'string' || typeof grant.e !== 'number' || grant.e * 1000 < Date.now()) {
      next(new HttpProblem(401, 'Unauthorized', 'The stream token is invalid, expired or for another book; ask for a new one', { reason: 'invalid_token' }));
      return;
    }
    req.user = { userId: grant.u, role: 'user' };
    next();
  };
  return { router, accept };
}
