/**
 * 405 with `Allow` for a path the API describes asked with a method it does not
 * describe (TRACE /v1/stories/{id}), instead of a 404 that says the resource does
 * not exist, and OPTIONS answered from the same document: what HTTP (RFC 9110
 * §15.5.6, §9.3.7) and generated clients expect.
 */
import type { RequestHandler } from 'express';
import { HttpProblem } from './problem';

type Operation = { method: string; path: string };

/** The documented methods of the template a path matches, or undefined. */
function allowedMethods(operations: Operation[]): (path: string) => Set<string> | undefined {
  const templates = new Map<string, Set<string>>();
  for (const op of operations) {
    const allowed = templates.get(op.path) ?? new Set<string>();
    allowed.add(op.method.toUpperCase());
    if (op.method === 'get') allowed.add('HEAD');
    templates.set(op.path, allowed);
  }
  const matchers = [...templates].map(([path, allowed]) => ({ parts: path.split('/'), allowed }));
  // A literal segment beats a parameter: /v1/stories/generate is not /v1/stories/{id}.
  const literals = (parts: string[]) => parts.filter((p) => !p.startsWith('{')).length;
  matchers.sort((a, b) => literals(b.parts) - literals(a.parts));
  return (path) => {
    const segments = path.split('/');
    return matchers.find(
      (m) => m.parts.length === segments.length && m.parts.every((p, i) => (p.startsWith('{') ? segments[i] !== '' : p === segments[i])),
    )?.allowed;
  };
}

export function methodNotAllowed(operations: Operation[]): RequestHandler {
  const allowedFor = allowedMethods(operations);
  return (req, res, next) => {
    const allowed = allowedFor(req.path);
    if (!allowed || allowed.has(req.method)) return next();
    const allow = [...allowed].sort().join(', ');
    res.setHeader('Allow', allow);
    next(new HttpProblem(405, 'Method Not Allowed', `${req.method} is not allowed here; use ${allow}`));
  };
}

/**
 * OPTIONS (other than a CORS preflight, answered before) says the documented methods:
 * Express would answer from the routes the path happens to match, which for
 * /v1/stories/generate are /v1/stories/{id}'s.
 */
export function answerOptions(operations: Operation[]): RequestHandler {
  const allowedFor = allowedMethods(operations);
  return (req, res, next) => {
    if (req.method !== 'OPTIONS') return next();
    const allowed = allowedFor(req.path);
    if (!allowed) return next();
    res.setHeader('Allow', [...allowed, 'OPTIONS'].sort().join(', '));
    res.status(204).end();
  };
}
