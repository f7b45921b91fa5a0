/**
 * HTTP rules every route follows the same way, kept out of the route handlers:
 * compression (gzip or brotli, never for event streams), 415 for a body that is
 * not JSON, and 405 (with Allow) for a documented path asked with another method.
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

/**
 * 405 for a request whose path the API serves with other methods, naming them in
 * `Allow`; anything else goes on (to the 404).
 */
export function methodNotAllowed(operations: ReadonlyArray<{ method: string; path: string }>): RequestHandler {
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const op of operations) {
    const route = routes.get(op.path) ?? {
      pattern: new RegExp(`^${op.path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}/?$`),
      methods: new Set<string>(),
    };
    route.methods.add(op.method.toUpperCase());
    if (route.methods.has('GET')) route.methods.add('HEAD');
    routes.set(op.path, route);
  }
  return (req, res, next) => {
    // `/v1/stories/generate` is also a `/v1/stories/{id}`: every route the path fits counts.
    const methods = new Set([...routes.values()].filter((r) => r.pattern.test(req.path)).flatMap((r) => [...r.methods]));
    if (methods.size === 0 || methods.has(req.method)) return next();
    const allow = [...methods].join(', ');
    res.setHeader('Allow', allow);
    next(new HttpProblem(405, 'Method Not Allowed', `${req.path} answers ${allow}, not ${req.method}`));
  };
}
