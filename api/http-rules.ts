/**
 * HTTP rules every route follows the same way, kept out of the route handlers:
 * compression (gzip or brotli, never for event streams), 415 for a body that is
 * not JSON. (405 with Allow, and OPTIONS, are api/method-not-allowed.ts.)
 */
import compression from 'compression';
import type { Request, RequestHandler, Response } from 'express';
import { HttpProblem } from './problem';

/** gzip or brotli, as the client accepts, for JSON, the document and the web page's assets; not for streams. */
export function compress(): RequestHandler {
  return compression({
    // An event stream must reach the client event by event, not when a buffer fills.
    filter: (req: Request, res: Response) =>
      !String(res.getHeader('Content-Type') ?? '').startsWith('text/event-stream') && compression.filter(req, res),
  });
}

/** A body that is not JSON is refused as such (415), not read as an empty one and blamed on its fields. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (!['POST', 'PUT', 'PATCH'].includes(req.method)) return next();
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) {
    next(new HttpProblem(415, 'Unsupported Media Type', `body: send application/json, not ${req.get('content-type') ?? 'no content type'}`));
    return;
  }
  next();
};
