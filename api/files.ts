/**
 * Sends stored objects: a book's files (PDF, EPUB, cover) and its chapters'
 * illustrations to its owner and on the public /shared route, and the owner's
 * single generated pictures, with one code path.
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { printCoverFile, printFile, type Ebook } from '../db/repositories';
import type { Storage } from '../activities/storage/types';
import type { Logger } from '../lib/logger';
import { HttpProblem, notFound } from './problem';

export const FILE_KINDS = ['pdf', 'epub', 'cover', 'print', 'print-cover'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

/**
 * Whether the request's If-None-Match names this ETag (weakly). Not `req.fresh`:
 * fetch() adds `Cache-Control: no-cache` to any request with a conditional header
 * of its own, and `fresh` then never answers 304, though the origin may.
 */
export function etagMatches(req: Request, etag: string): boolean {
  const given = (req.get('if-none-match') ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  return given.includes(etag.replace(/^W\//, '')) || given.includes('*');
}

/** A stored object's ETag: its key (new for every version) and size. */
const storedEtag = (key: string, bytes: number) =>
  `"${createHash('sha256').update(`${key}:${bytes}`).digest('base64url').slice(0, 22)}"`;

/**
 * Sends a stored object (the caller has checked who may read it): from S3 as a
 * redirect to a short-lived signed URL, so the bytes never pass through the API
 * and the link stops working minutes later; from local storage streamed.
 */
export async function sendStoredFile(
  req: Request,
  res: Response,
  opts: {
    storage: Storage;
    key: string;
    head: { bytes: number; contentType: string };
    name: string;
    inline: boolean;
    log: Logger;
    cacheControl?: string;
  },
): Promise<void> {
  const { storage, key, head, name, inline } = opts;
  if (storage.presignedUrl) {
    const url = await storage.presignedUrl(key, { expiresInSeconds: 300, downloadName: inline ? undefined : name });
    res.setHeader('Cache-Control', 'private, no-store');
    res.redirect(302, url);
    return;
  }
  const etag = storedEtag(key, head.bytes);
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', opts.cacheControl ?? 'private, max-age=0, must-revalidate');
  if (etagMatches(req, etag)) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', head.contentType);
  res.setHeader('Content-Length', String(head.bytes));
  res.setHeader(
    'Content-Disposition',
    `${inline ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
  );
  // pipeline, not pipe: a client that hangs up also closes the file.
  await pipeline(await storage.stream(key), res).catch((err: unknown) => {
    if (!res.headersSent || !res.writableEnded) opts.log.warn({ err, key, requestId: req.id }, 'file stream ended early');
  });
}

/**
 * One of a book's files by kind; 404 problems for an unknown kind or a file not
 * made yet. The print-ready PDF and its wraparound cover are the owner's alone (`options.print`).
 */
export async function sendBookFile(
  req: Request,
  res: Response,
  deps: { storage: Storage; log: Logger; cacheControl: string },
  book: Ebook,
  kindParam: string,
  options: { print?: boolean } = {},
): Promise<void> {
  const { storage } = deps;
  const kind = kindParam as FileKind;
  const printKind = kind === 'print' || kind === 'print-cover';
  if (!FILE_KINDS.includes(kind) || (printKind && !options.print)) throw notFound('File');
  if (printKind && book.pdfKey && !printFile(book)) {
    throw new HttpProblem(404, 'Not Found', 'This book has no print-ready PDF (it comes with the Midnights and The Eras Tour plans)');
  }
  if (kind === 'print-cover' && book.pdfKey && !printCoverFile(book)) {
    throw new HttpProblem(404, 'Not Found', 'This version of the book has no print cover (it was made before print covers were); re-run its PDF to get one');
  }
  const key =
    kind === 'pdf'
      ? book.pdfKey
      : kind === 'epub'
        ? book.epubKey
        : kind === 'print'
          ? printFile(book)?.key
          : kind === 'print-cover'
            ? printCoverFile(book)?.key
            : book.coverImageKey;
  if (!key) throw new HttpProblem(404, 'Not Found', `The ${kind} is not ready yet`, { bookStatus: book.status });
  const head = await storage.head(key);
  if (!head) throw notFound('File');
  const ext = key.slice(key.lastIndexOf('.') + 1);
  const name = `${slug(book.title) || 'ebook'}${printKind ? `-${kind}` : ''}.${ext}`;
  // A URL naming the current version (`?v=`, as the book's answers give them) never
  // changes content: the next version has another URL. Any other URL revalidates.
  const scope = deps.cacheControl.startsWith('public') ? 'public' : 'private';
  const cacheControl = req.query.v === String(book.fileVersion) ? `${scope}, max-age=31536000, immutable` : deps.cacheControl;
  await sendStoredFile(req, res, { storage, key, head, name, inline: kind === 'cover', log: deps.log, cacheControl });
}

function slug(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
    .slice(0, 80);
}

/**
 * Chapter `n`'s illustration of a book the caller may read (its owner, or anyone
 * for a public book). Always streamed through the API (never a presigned
 * redirect): the page fetches illustrations with its bearer token from its own
 * origin, and its Content-Security-Policy allows no other. An illustration's
 * storage key changes when a chapter is rewritten, so the ETag (from key and size)
 * changes with it and a browser's cached copy is revalidated cheaply.
 */
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
    throw new HttpProblem(404, 'Not Found', `The illustration of chapter ${chapter.index} is not ready yet`, { bookStatus: book.status });
  }
  const head = await storage.head(chapter.imageKey);
  if (!head) throw notFound('Illustration');

  const etag = storedEtag(chapter.imageKey, head.bytes);
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', deps.cacheControl);
  if (chapter.imageAlt) res.setHeader('X-Image-Alt', encodeURIComponent(chapter.imageAlt));
  if (etagMatches(req, etag)) {
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
