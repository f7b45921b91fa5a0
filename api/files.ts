/**
 * Sends one of a book's stored files (PDF, EPUB or cover): the owner's download
 * route and the public /shared route answer with the same code.
 */
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Ebook } from '../db/repositories';
import type { Storage } from '../activities/storage/types';
import type { Logger } from '../lib/logger';
import { HttpProblem, notFound } from './problem';

export const FILE_KINDS = ['pdf', 'epub', 'cover'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

export async function sendBookFile(
  req: Request,
  res: Response,
  deps: { storage: Storage; log: Logger; cacheControl: string },
  book: Ebook,
  kindParam: string,
): Promise<void> {
  const { storage } = deps;
  const kind = kindParam as FileKind;
  if (!FILE_KINDS.includes(kind)) throw notFound('File');
  const key = kind === 'pdf' ? book.pdfKey : kind === 'epub' ? book.epubKey : book.coverImageKey;
  if (!key) throw new HttpProblem(404, 'Not Found', `The ${kind} is not ready yet`, { status: book.status });
  const head = await storage.head(key);
  if (!head) throw notFound('File');
  const ext = key.slice(key.lastIndexOf('.') + 1);
  const name = `${slug(book.title) || 'ebook'}.${ext}`;
  if (storage.presignedUrl) {
    // From S3 the reader is sent to a short-lived signed URL: the bytes never pass
    // through the API, and the link stops working minutes later.
    const url = await storage.presignedUrl(key, {
      expiresInSeconds: 300,
      downloadName: kind === 'cover' ? undefined : name,
    });
    res.setHeader('Cache-Control', 'private, no-store');
    res.redirect(302, url);
    return;
  }
  res.setHeader('Content-Type', head.contentType);
  res.setHeader('Content-Length', String(head.bytes));
  res.setHeader('Cache-Control', deps.cacheControl);
  res.setHeader(
    'Content-Disposition',
    `${kind === 'cover' ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
  );
  // pipeline, not pipe: a client that hangs up also closes the file.
  await pipeline(await storage.stream(key), res).catch((err: unknown) => {
    if (!res.headersSent || !res.writableEnded) deps.log.warn({ err, key, requestId: req.id }, 'file stream ended early');
  });
}

function slug(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
    .slice(0, 80);
}
