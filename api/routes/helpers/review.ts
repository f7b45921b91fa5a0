/**
 * What the outline review routes of books and stories share: the answer sent as
 * the workflow's `reviewOutline` update, its refusals turned into problems (the
 * validator's into a 400 naming the field, "not waiting" into a 409), the outline
 * read with the `outline` query, and the request schemas the OpenAPI document shows.
 * The rules of an answer live once, in core/outline-review.ts, enforced by the
 * update's validator.
 */
import type { Request } from 'express';
import { z } from 'zod';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { CHAPTER_COUNT } from '../../../core/limits';
import { OUTLINE_LIMITS, type AnswerProblem, type OutlineAnswer } from '../../../core/outline-review';
import type { Logger } from '../../../lib/logger';
import { ErrorTypes, outlineQuery, ReviewErrorTypes, reviewOutlineUpdate, type ReviewOutline } from '../../../workflows/shared';
import { HttpProblem } from '../../problem';

// For the OpenAPI description only: the update's validator checks the same limits.
const text = (max: number) => z.string().min(1).max(max);
export const outlineEditSchema = z.strictObject({
  title: text(OUTLINE_LIMITS.title).optional(),
  chapters: z
    .array(z.strictObject({ title: text(OUTLINE_LIMITS.title), summary: text(OUTLINE_LIMITS.summary) }))
    .min(CHAPTER_COUNT.min)
    .max(CHAPTER_COUNT.max),
});
export const outlineReviseSchema = z.strictObject({ feedback: text(OUTLINE_LIMITS.feedback) });

/** The fields each answer's body may have; an unknown one is refused by name, as on every route. */
const ANSWER_FIELDS: Record<OutlineAnswer['action'], readonly string[]> = { edit: ['title', 'chapters'], revise: ['feedback'], approve: [] };

function refuseUnknownFields(action: OutlineAnswer['action'], body: Record<string, unknown>): void {
  if (action === 'approve') return;
  const unknown = Object.keys(body).filter((k) => !ANSWER_FIELDS[action].includes(k)).map((k) => `body.${k}`);
  if (action === 'edit' && Array.isArray(body.chapters)) {
    body.chapters.forEach((c: unknown, i) => {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) return;
      for (const k of Object.keys(c)) if (k !== 'title' && k !== 'summary') unknown.push(`body.chapters.${i}.${k}`);
    });
  }
  if (unknown.length === 0) return;
  const message = 'is not a field this request accepts';
  throw new HttpProblem(400, 'Invalid request', `${unknown[0]}: ${message}`, { errors: unknown.map((field) => ({ field, message })) });
}

/** The answer a request's body makes: the update's validator, not this, judges it. */
export function answerOf(req: Request, action: OutlineAnswer['action']): OutlineAnswer {
  const body: Record<string, unknown> =
    typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? req.body : {};
  refuseUnknownFields(action, body);
  if (action === 'edit') return { action, title: body.title, chapters: body.chapters } as OutlineAnswer;
  if (action === 'revise') return { action, feedback: body.feedback } as OutlineAnswer;
  return { action };
}

/** The outline the run holds while it waits; `notWaiting` when it does not. */
export async function heldOutline(handle: WorkflowHandle, notWaiting: () => HttpProblem): Promise<ReviewOutline> {
  let review: ReviewOutline | null;
  try {
    review = await handle.query(outlineQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notWaiting();
    throw err;
  }
  if (!review) throw notWaiting();
  return review;
}

/** Sends the answer as the update; answers with the outline the run then holds. */
export async function sendAnswer(
  handle: WorkflowHandle,
  answer: OutlineAnswer,
  notWaiting: () => HttpProblem,
  log: Logger,
): Promise<ReviewOutline> {
  try {
    return await handle.executeUpdate(reviewOutlineUpdate, { args: [answer] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notWaiting();
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine did not answer in time; try again shortly.');
    }
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === ReviewErrorTypes.InvalidAnswer) {
      const problem = (cause.details?.[0] ?? { field: 'body', message: cause.message }) as AnswerProblem;
      const field = problem.field === 'body' ? 'body' : `body.${problem.field}`;
      throw new HttpProblem(400, 'Invalid request', `${field}: ${problem.message}`, {
        errors: [{ field, message: problem.message }],
      });
    }
    if (cause instanceof ApplicationFailure && cause.type === ReviewErrorTypes.NotAwaitingReview) throw notWaiting();
    // The answer was accepted but its step failed (a revision's feedback refused, the providers down):
    // the run still waits with the outline it had.
    if (cause instanceof ActivityFailure) {
      const failure = cause.cause instanceof ApplicationFailure ? cause.cause : undefined;
      if (failure?.type === ErrorTypes.ContentRefused) {
        throw new HttpProblem(422, 'Content refused', 'body.feedback: was refused by content moderation', {
          errors: [{ field: 'body.feedback', message: 'was refused by content moderation' }],
        });
      }
      log.warn({ err, workflowId: handle.workflowId }, 'outline review step failed');
      throw new HttpProblem(502, 'Bad Gateway', 'The outline could not be changed just now; it still waits. Try again.');
    }
    throw err;
  }
}
