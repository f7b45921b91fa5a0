import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Storage } from '../activities/storage/types';
import type { Logger } from '../lib/logger';

/**
 * Sends a stored object to its owner (the caller has checked ownership): from
 * S3 as a redirect to a short-lived signed URL, so the bytes never pass through
 * the API and the link stops working minutes later; from local storage streamed.
 */
export async function sendStoredFile(
  req: Request,
  res: Response,
  opts: { storage: Storage; key: string; head: { bytes: number; contentType: string }; name: string; inline: boolean; log: Logger },
): Promise<void> {
  const { storage, key, head, name, inline } = opts;
  if (storage.presignedUrl) {
    const url = await storage.presignedUrl(key, { expiresInSeconds: 300, downloadName: inline ? undefined : name });
    res.setHeader('Cache-Control', 'private, no-store');
    res.redirect(302, url);
    return;
  }
  res.setHeader('Content-Type', head.contentType);
  res.setHeader('Content-Length', String(head.bytes));
  res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
  res.setHeader(
    'Content-Disposition',
    `${inline ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
  );
  // pipeline, not pipe: a client that hangs up also closes the file.
  await pipeline(await storage.stream(key), res).catch((err: unknown) => {
    if (!res.headersSent || !res.writableEnded) opts.log.warn({ err, key, requestId: req.id }, 'file stream ended early');
  });
}
