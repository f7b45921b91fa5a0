import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { ZodError } from 'zod';
import type { Logger } from '../lib/logger';

/** An error that maps to an RFC 9457 problem response. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

export const notFound = (what = 'Resource') => new HttpProblem(404, 'Not Found', `${what} not found`);

export function sendProblem(
  req: Request,
  res: Response,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  res
    .status(status)
    .type('application/problem+json')
    .json({
      type: 'about:blank',
      title,
      detail,
      instance: req.originalUrl,
      requestId: req.id,
      ...extra,
      // RFC 9457: `status` is the HTTP status code, whatever else a problem carries.
      status,
    });
}

/** Names the field: `body.chapterCount`, `query.limit`... */
export function zodProblem(err: ZodError, where: 'body' | 'query' | 'params'): HttpProblem {
  const errors = err.issues.map((i) => ({
    field: [where, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  const first = errors[0];
  return new HttpProblem(400, 'Invalid request', `${first.field}: ${first.message}`, { errors });
}

/** The one place errors become responses: no stack traces, no internals. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof HttpProblem) {
      sendProblem(req, res, err.status, err.title, err.message, err.extra);
      return;
    }
    if (err instanceof ZodError) {
      const p = zodProblem(err, 'body');
      sendProblem(req, res, p.status, p.title, p.message, p.extra);
      return;
    }
    // body-parser's errors carry a status and a type.
    const e = err as { status?: number; type?: string; message?: string };
    if (e.type === 'entity.parse.failed') {
      sendProblem(req, res, 400, 'Invalid request', 'body: is not valid JSON', {
        errors: [{ field: 'body', message: 'is not valid JSON' }],
      });
      return;
    }
    if (e.type === 'entity.too.large') {
      sendProblem(req, res, 413, 'Payload Too Large', 'body: is larger than the limit');
      return;
    }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      sendProblem(req, res, 415, 'Unsupported Media Type', 'body: unsupported encoding');
      return;
    }
    // Express's own client errors (a path parameter that does not decode, …) carry a 4xx status.
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      sendProblem(req, res, e.status, STATUS_CODES[e.status] ?? 'Invalid request', 'The request could not be read.');
      return;
    }
    if ((err as { code?: unknown }).code === 'STORAGE_UNAVAILABLE') {
      log.warn({ err, requestId: req.id, path: req.path }, 'file storage unavailable');
      res.setHeader('Retry-After', '5');
      sendProblem(req, res, 503, 'Service Unavailable', 'File storage is unreachable; try again in a few seconds.', {
        retryAfterSeconds: 5,
      });
      return;
    }
    if (isDependencyDown(err)) {
      // A database (or other dependency) outage is temporary: say so, and when to come back.
      log.warn({ err, requestId: req.id, path: req.path }, 'dependency unavailable');
      res.setHeader('Retry-After', '5');
      sendProblem(req, res, 503, 'Service Unavailable', 'A service the engine depends on is unavailable; try again in a few seconds.');
      return;
    }
    log.error({ err, requestId: req.id, path: req.path }, 'unhandled error');
    sendProblem(req, res, 500, 'Internal Server Error', 'Something went wrong on our side; try again.');
  };
}

/** Connection-level failures of the database or another dependency, as opposed to bugs. */
export function isDependencyDown(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  // PostgreSQL: connection exceptions (08xxx), admin shutdown, cannot connect now.
  if (/^08/.test(code) || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (e.name === 'KnexTimeoutError') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Timeout acquiring a connection|Connection terminated/i.test(message);
}
