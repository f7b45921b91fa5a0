/**
 * Publishing a book and reading public books.
 *
 * - `POST /v1/ebooks/{id}/publish` / `unpublish` (owner): make a completed book
 *   public (recording `ebook_published` once per book version) or private again.
 * - `GET /shared/ebooks/{id}` and `/shared/ebooks/{id}/files/{kind}`: a public book
 *   and its files for anyone, without a token. Private, unfinished, unknown or
 *   deleted books answer 404, exactly like a book that never existed.
 *
 * The public routes are a router of their own: app.ts mounts it outside /v1,
 * without a token and under the per-address rate limit.
 */
import { Router } from 'express';
import type { Services } from '../../../wiring/services';
import type { Logger } from '../../../lib/logger';
import type { Ebook } from '../../../db/repositories';
import { publishedActivity, type Visibility } from '../../../db/sharing';
import { HttpProblem, notFound, zodProblem } from '../../problem';
import { idempotency } from '../../idempotency';
import { chapterParagraphs, type BookCache } from '../../book-cache';
import { sendBookFile, sendChapterImage } from '../../files';
import { chapterParamsSchema, findOwnBook, shareUrlOf } from '../helpers/books';
import type { Publication, SharedBook } from '../../schemas/ebooks';
import type { EbookRoutes } from './deps';

export const publishRoutes: EbookRoutes = (router, deps) => {
  const { repos, knex } = deps.services;

  const answer = (book: Ebook): Publication => ({
    id: book.id,
    visibility: book.visibility,
    publishedAt: book.publishedAt,
    shareUrl: shareUrlOf(book),
  });

  const change = (visibility: Visibility) =>
    router.post(`/ebooks/:id/${visibility === 'public' ? 'publish' : 'unpublish'}`, idempotency(knex), async (req, res) => {
      const book = await findOwnBook(repos, req);
      if (visibility === 'public' && book.status !== 'completed') {
        throw new HttpProblem(409, 'Conflict', `Only a completed book can be published; it is ${book.status}.`, {
          bookStatus: book.status,
        });
      }
      const updated = await repos.sharing.setVisibility(book.id, visibility);
      if (!updated) throw notFound('Ebook'); // deleted meanwhile
      if (visibility === 'public') {
        await repos.activities.record({
          ...publishedActivity(updated),
          ipAddress: req.ip,
          userAgent: req.get('user-agent') ?? undefined,
        });
      }
      res.json(answer(updated));
    });
  change('public');
  change('private');
};

export function sharedRouter(deps: { services: Services; bookCache: BookCache; log: Logger }): Router {
  const { repos, storage } = deps.services;
  const router = Router();

  const publicBook = async (id: string): Promise<Ebook> => {
    const book = await repos.ebooks.get(id);
    if (!book || book.visibility !== 'public' || book.status !== 'completed') throw notFound('Ebook');
    return book;
  };

  router.get('/shared/ebooks/:id', async (req, res) => {
    const book = await publicBook(String(req.params.id));
    const paragraphs = await chapterParagraphs(book, storage, deps.bookCache);
    const files = `/shared/ebooks/${book.id}/files`;
    res.setHeader('Cache-Control', 'public, max-age=0, must-revalidate');
    res.json({
      id: book.id,
      title: book.title,
      description: book.description,
      chapters: book.chapters.map((c, i) => ({
        index: c.index,
        title: c.title,
        paragraphs: paragraphs[i] ?? [],
        imageUrl: c.imageKey ? `/shared/ebooks/${book.id}/chapters/${c.index}/image?v=${book.fileVersion}` : null,
        imageAlt: c.imageKey ? (c.imageAlt ?? null) : null,
      })),
      coverImageUrl: book.coverImageKey ? `${files}/cover?v=${book.fileVersion}` : null,
      pdfUrl: book.pdfKey ? `${files}/pdf?v=${book.fileVersion}` : null,
      epubUrl: book.epubKey ? `${files}/epub?v=${book.fileVersion}` : null,
      fileVersion: book.fileVersion,
      fileVersionAt: book.fileVersionAt,
      publishedAt: book.publishedAt,
      shareUrl: shareUrlOf(book),
    } satisfies SharedBook);
  });

  router.get('/shared/ebooks/:id/files/:kind', async (req, res) => {
    const book = await publicBook(String(req.params.id));
    await sendBookFile(req, res, { storage, log: deps.log, cacheControl: 'public, max-age=0, must-revalidate' }, book, String(req.params.kind));
  });

  router.get('/shared/ebooks/:id/chapters/:n/image', async (req, res) => {
    const book = await publicBook(String(req.params.id));
    const params = chapterParamsSchema.safeParse(req.params);
    if (!params.success) throw zodProblem(params.error, 'params');
    await sendChapterImage(req, res, { storage, log: deps.log, cacheControl: 'public, max-age=0, must-revalidate' }, book, params.data.n);
  });

  return router;
}
