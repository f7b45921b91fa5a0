/**
 * Chapter illustrations for the book's owner: `GET /ebooks/:id/chapters/:n/image`
 * (and, through sendChapterImage, for anyone reading a public book under /shared).
 * The web page shows them as each chapter is illustrated and in the reader.
 *
 * Always streamed through the API (never a presigned redirect): the page fetches
 * them with its bearer token from its own origin, and its Content-Security-Policy
 * allows no other. An illustration's storage key changes when a chapter is
 * rewritten, so the ETag (from key and size) changes with it and a browser's
 * cached copy is revalidated cheaply.
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import type { Ebook } from '../../db/repositories';
import type { Storage } from '../../activities/storage/types';
import { HttpProblem, notFound, zodProblem } from '../problem';
import { findOwnBook } from './ebooks';

export const chapterParamsSchema = z.object({
  id: z.string(),
  n: z.coerce.number().int('must be a whole number').min(1, 'must be 1 or more'),
});

export function ebookImageRouter(deps: { services: Services; log: Logger }): Router {
  const { repos, storage } = deps.services;
  const router = Router();

  router.get('/ebooks/:id/chapters/:n/image', async (req, res) => {
    const params = chapterParamsSchema.safeParse(req.params);
    if (!params.success) throw zodProblem(params.error, 'params');
    // Ownership as everywhere: another user's book (or a malformed id) does not exist for the caller.
    const book = await findOwnBook(repos, req);
    await sendChapterImage(req, res, { storage, log: deps.log, cacheControl: 'private, max-age=0, must-revalidate' }, book, params.data.n);
  });

  return router;
}

/** Chapter `n`'s illustration of a book the caller may read (its owner, or anyone for a public book). */
export async function sendChapterImage(
  req: Request,
  res: Response,
  deps: { storage: Storage; log: Logger; cacheControl: string },
  book: Ebook,
  n: number,
): Promise<void> {
  const { storage } = deps;
  const chapter = book.chapters.find((c) => c.index === n);
  if (!chapter) throw notFound('Chapter');
  if (!chapter.imageKey) {
    throw new HttpProblem(404, 'Not Found', `The illustration of chapter ${chapter.index} is not ready yet`, { status: book.status });
  }
  const head = await storage.head(chapter.imageKey);
  if (!head) throw notFound('Illustration');

  const etag = `"${createHash('sha256').update(`${chapter.imageKey}:${head.bytes}`).digest('base64url').slice(0, 22)}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', deps.cacheControl);
  if (chapter.imageAlt) res.setHeader('X-Image-Alt', encodeURIComponent(chapter.imageAlt));
  const given = (req.get('if-none-match') ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (given.includes(etag) || given.includes('*')) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', head.contentType);
  res.setHeader('Content-Length', String(head.bytes));
  res.setHeader('Content-Disposition', 'inline');
  await pipeline(await storage.stream(chapter.imageKey), res).catch((err: unknown) => {
    // A page that moves on aborts its picture fetches: that hang-up is normal, anything else is worth a line.
    if ((err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    deps.log.warn({ err, key: chapter.imageKey, requestId: req.id }, 'image stream ended early');
  });
}
