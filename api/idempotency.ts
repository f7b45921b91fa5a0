import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { HttpProblem } from './problem';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` for POSTs that start work: the first request with a key
 * runs and its answer is stored; a repeat gets the stored answer and starts
 * nothing. A repeat while the first is still running answers 409; the same
 * key with a different request answers 422. Server errors are not stored, so
 * the client may retry them with the same key.
 */
export function idempotency(knex: Knex): RequestHandler {
  return async (req, res, next) => {
    const key = req.get('idempotency-key');
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new HttpProblem(400, 'Invalid request', 'headers.idempotency-key: must be 1-255 visible ASCII characters', {
        errors: [{ field: 'headers.idempotency-key', message: 'must be 1-255 visible ASCII characters' }],
      });
    }
    const userId = req.user!.userId;
    const path = req.originalUrl.split('?')[0];
    const hash = createHash('sha256')
      .update(`${req.method} ${path}\n${JSON.stringify(req.body ?? null)}`)
      .digest('hex');

    const inserted = await knex.raw(
      `INSERT INTO idempotency_keys (user_id, key, method, path, request_hash)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING key`,
      [userId, key, req.method, path, hash],
    );
    if (inserted.rows.length === 0) {
      const prior = await knex('idempotency_keys').where({ user_id: userId, key }).first();
      if (!prior) throw new HttpProblem(409, 'Conflict', 'The request with this Idempotency-Key is being processed; retry shortly.');
      if (prior.request_hash !== hash) {
        throw new HttpProblem(422, 'Unprocessable Content', 'This Idempotency-Key was used for a different request.');
      }
      if (prior.status_code === null) {
        res.setHeader('Retry-After', '1');
        throw new HttpProblem(409, 'Conflict', 'The request with this Idempotency-Key is still being processed; retry shortly.');
      }
      const headers = (prior.headers ?? {}) as Record<string, string>;
      if (headers.location) res.setHeader('Location', headers.location);
      res.setHeader('Idempotent-Replayed', 'true');
      res.status(prior.status_code);
      res.type(headers['content-type']?.includes('problem+json') ? 'application/problem+json' : 'application/json');
      res.send(JSON.stringify(prior.response));
      return;
    }

    // Store the answer before it leaves, so a repeat arriving right after it sees it
    // (or free the key on a 5xx, so the client can retry).
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const write =
        res.statusCode >= 500
          ? knex('idempotency_keys').where({ user_id: userId, key }).delete()
          : knex('idempotency_keys')
              .where({ user_id: userId, key })
              .update({
                status_code: res.statusCode,
                response: JSON.stringify(body ?? null),
                headers: JSON.stringify(
                  Object.fromEntries(
                    ['location', 'content-type']
                      .map((h) => [h, res.getHeader(h)])
                      .filter(([, v]) => typeof v === 'string'),
                  ),
                ),
              });
      write.then(
        () => json(body),
        () => json(body),
      );
      return res;
    };
    next();
  };
}
