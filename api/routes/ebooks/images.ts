/**
 * Chapter illustrations for the book's owner: `GET /ebooks/:id/chapters/:n/image`.
 * The web page shows them as each chapter is illustrated and in the reader; how
 * they are sent (streamed, with an ETag) is api/files.ts `sendChapterImage`, which
 * the public /shared route uses as well.
 */
import { zodProblem } from '../../problem';
import { sendChapterImage } from '../../files';
import { chapterParamsSchema, findOwnBook } from '../helpers/books';
import type { EbookRoutes } from './deps';

export const imageRoutes: EbookRoutes = (router, deps) => {
  const { repos, storage } = deps.services;

  router.get('/ebooks/:id/chapters/:n/image', async (req, res) => {
    const params = chapterParamsSchema.safeParse(req.params);
    if (!params.success) throw zodProblem(params.error, 'params');
    // Ownership as everywhere: another user's book (or a malformed id) does not exist for the caller.
    const book = await findOwnBook(repos, req);
    await sendChapterImage(req, res, { storage, log: deps.log, cacheControl: 'private, max-age=0, must-revalidate' }, book, params.data.n);
  });
};
