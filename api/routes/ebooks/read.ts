/**
 * Reading one's own book: the whole book (chapter text from the book cache), its
 * status document (from the status cache, with an ETag), its files, and its
 * progress as server-sent events.
 */
import { printCoverFile, printFile } from '../../../db/repositories';
import { chapterParagraphs } from '../../book-cache';
import { etagMatches, sendBookFile } from '../../files';
import { lastEventId, streamEvents } from '../../sse';
import { latestRunStart, runStamper } from '../../ebook-runs';
import { chapterStatus, findOwnBook, statusOf } from '../helpers/books';
import type { Book } from '../../schemas/ebooks';
import type { EbookRoutes } from './deps';

export const readRoutes: EbookRoutes = (router, deps) => {
  const { services, bookCache, statusCache } = deps;
  const { repos, storage } = services;

  router.get('/ebooks/:id', async (req, res) => {
    const book = await findOwnBook(repos, req);
    const paragraphs = await chapterParagraphs(book, storage, bookCache);
    const chapters = book.chapters.map((c, i) => ({
      index: c.index,
      title: c.title,
      summary: c.summary,
      status: chapterStatus(c.status),
      words: c.words,
      textProvider: c.textProvider,
      imageProvider: c.imageProvider,
      imageAlt: c.imageAlt,
      // Like the public book's: the owner's image route, versioned like the files.
      imageUrl: c.imageKey ? `/v1/ebooks/${book.id}/chapters/${c.index}/image?v=${book.fileVersion}` : null,
      paragraphs: paragraphs[i] ?? [],
    }));
    res.json({
      ...statusOf(book),
      description: book.description,
      prompt: book.prompt,
      settings: book.generationSettings,
      chapters,
      pdfUrl: book.pdfUrl ?? null,
      printPdfUrl: printFile(book) ? `/v1/ebooks/${book.id}/files/print?v=${book.fileVersion}` : null,
      printCoverUrl: printCoverFile(book) ? `/v1/ebooks/${book.id}/files/print-cover?v=${book.fileVersion}` : null,
      epubUrl: book.epubUrl ?? null,
      coverImageUrl: book.coverImageUrl ?? null,
      fileVersion: book.fileVersion,
      cost: book.cost ?? {},
      createdAt: book.createdAt,
      publishedAt: book.publishedAt ?? null,
    } satisfies Book);
  });

  router.get('/ebooks/:id/status', async (req, res) => {
    const answer = await statusCache.load(String(req.params.id), req.user!.userId, async () => {
      const book = await findOwnBook(repos, req);
      return { id: book.id, doc: statusOf(book) };
    });
    res.setHeader('ETag', answer.etag);
    if (etagMatches(req, answer.etag)) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(answer.body);
  });

  router.get('/ebooks/:id/files/:kind', async (req, res) => {
    const book = await findOwnBook(repos, req);
    await sendBookFile(req, res, { storage, log: deps.log, cacheControl: 'private, max-age=0, must-revalidate' }, book, String(req.params.kind), { print: true });
  });

  router.get('/ebooks/:id/events', async (req, res) => {
    const book = await findOwnBook(repos, req);
    // A fresh stream starts at the latest run; Last-Event-ID resumes (0: every run).
    const afterId = lastEventId(req) ?? (await latestRunStart(services.knex, book.id));
    await streamEvents(req, res, services.events, book.id, 'ebook', afterId, await runStamper(services.knex, book.id, afterId));
  });
};
