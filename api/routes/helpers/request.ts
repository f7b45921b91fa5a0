/**
 * Reading requests the same way on every route: strict bodies whose unknown keys
 * are named one by one, the list query, the feedback body of a rewrite, and the
 * problems that name the field at fault. Route files share these from here, never
 * from each other.
 */
import { z, ZodError, type ZodType } from 'zod';
import { InvalidCursorError } from '../../../db/repositories';
import { HttpProblem, zodProblem } from '../../problem';

/** `?limit&cursor` of the keyset-paged lists (books, stories). */
export const listQuerySchema = z.object({
  limit: z.coerce.number().int('must be an integer').min(1, 'must be 1-100').max(100, 'must be 1-100').default(20),
  cursor: z.string().max(200).optional(),
});

/** A rewrite's body (a chapter, the chapters step, a story): optional feedback for the writer. */
export const rewriteSchema = z
  .object({
    feedback: z.string().trim().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters').meta({ pattern: '\\S' }).optional(),
  })
  .strict();

/**
 * safeParse that turns "unrecognized keys" into one error per key, so the
 * problem names `body.email` rather than just `body`.
 */
export function parseStrict<T>(schema: ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.flatMap((i): ZodError['issues'] =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ ...i, path: [...i.path, k], message: 'is not a field this request accepts' }))
      : [i],
  );
  throw zodProblem(new ZodError(issues), where);
}

/** A problem about one field, shaped like a validation problem (`errors: [{ field, message }]`). */
export const fieldProblem = (status: number, title: string, field: string, message: string) =>
  new HttpProblem(status, title, `${field}: ${message}`, { errors: [{ field, message }] });

/** A page of a keyset-paged list; a cursor this API never gave out is the caller's 400, not a 500. */
export async function pageOrProblem<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (err instanceof InvalidCursorError) {
      throw fieldProblem(400, 'Invalid request', 'query.cursor', 'is not a cursor this API gave out');
    }
    throw err;
  }
}
