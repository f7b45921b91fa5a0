/**
 * The one error shape (RFC 9457 problem+json) as a zod schema: `status` is always
 * the HTTP status code; what a conflict is about goes in fields of its own
 * (`bookStatus`, `storyStatus`), never in `status`.
 */
import { z } from 'zod';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    bookStatus: z.string().optional().describe("The book's status, when it is why the request was refused"),
    storyStatus: z.string().optional().describe("The story's status, when it is why the request was refused"),
    retryAfterSeconds: z.int().optional(),
  })
  .catchall(z.unknown())
;

export type Problem = z.infer<typeof problemSchema>;
