/**
 * The one rule for text in requests: no field, key, query value or path segment may
 * hold NUL (U+0000) or an unpaired UTF-16 surrogate. PostgreSQL's text and jsonb
 * cannot store NUL at all and refuse `\u0000` and lone surrogates inside JSON, and
 * neither is text a person wrote, so refusing them up front with a 400 that names the
 * field beats a database error (a 500) deep inside a route.
 */
import type { RequestHandler } from 'express';
import { HttpProblem } from './problem';

// Without the `u` flag a regex sees UTF-16 code units, so it can find a surrogate alone.
const UNSAFE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string is refused, or undefined when it is fine. */
export function unsafeText(s: string): string | undefined {
  const m = UNSAFE.exec(s);
  if (!m) return undefined;
  return m[0] === '\u0000' ? 'must not contain the NUL character (U+0000)' : 'must not contain an unpaired surrogate (not valid Unicode text)';
}

export interface UnsafeField {
  field: string;
  message: string;
}

/**
 * The first string (value or object key) in a parsed JSON value that breaks the rule,
 * with its dotted path. Iterative, so a deeply nested body cannot overflow the stack.
 */
export function findUnsafeText(value: unknown, root: string): UnsafeField | undefined {
  const stack: Array<[unknown, string]> = [[value, root]];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      const why = unsafeText(v);
      if (why) return { field: at, message: why };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}.${i}`]);
    } else if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      for (const [k] of entries) {
        const why = unsafeText(k);
        if (why) return { field: `${at}.${k}`, message: `its name ${why}` };
      }
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i][1], `${at}.${entries[i][0]}`]);
    }
  }
  return undefined;
}

const problemOf = (f: UnsafeField) =>
  new HttpProblem(400, 'Invalid request', `${f.field}: ${f.message}`, { errors: [f] });

/** The parsed JSON body: to be mounted right after the JSON parser. */
export const refuseUnsafeBody: RequestHandler = (req, _res, next) => {
  const found = req.body === undefined ? undefined : findUnsafeText(req.body, 'body');
  next(found ? problemOf(found) : undefined);
};

/**
 * The path and the query, for every route, before any route matches: a path segment
 * that does not decode as UTF-8 (`%FF`) or decodes to NUL is refused here, named after
 * its template (`params.userId` for `/v1/users/{userId}/…`) when the path is one the
 * API describes, else `path`.
 */
export function refuseUnsafePathAndQuery(templates: string[]): RequestHandler {
  const known = templates.map((t) => t.split('/'));
  const nameOf = (segments: string[], i: number): string => {
    const t = known.find(
      (parts) =>
        parts.length === segments.length &&
        parts.every((p, j) => j === i || p.startsWith('{') || p === segments[j]) &&
        parts[i].startsWith('{'),
    );
    return t ? `params.${t[i].slice(1, -1)}` : 'path';
  };
  return (req, _res, next) => {
    const segments = req.path.split('/');
    for (let i = 0; i < segments.length; i++) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segments[i]);
      } catch {
        next(problemOf({ field: nameOf(segments, i), message: 'is not valid percent-encoded UTF-8' }));
        return;
      }
      const why = unsafeText(decoded);
      if (why) {
        next(problemOf({ field: nameOf(segments, i), message: why }));
        return;
      }
    }
    const found = findUnsafeText(req.query, 'query');
    next(found ? problemOf(found) : undefined);
  };
}
