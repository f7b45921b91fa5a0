/**
 * The AI routes that answer while the caller waits (an improved prompt, a
 * picture, an upscale): start a short workflow and wait for its result, turning
 * its failure into the caller's problem. Shared by the route files from here.
 */
import type { Request } from 'express';
import { ApplicationFailure, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Logger } from '../../../lib/logger';
import { ErrorTypes } from '../../../workflows/shared';
import { HttpProblem } from '../../problem';

/**
 * Starts the workflow and waits for its result; a run that outlasts the wait is
 * answered 504 (`onTimeout` decides what becomes of it), and a failed one by
 * its cause: refused content 422, input the work cannot use 422, no provider
 * 503, anything else 502.
 */
export async function awaitWorkflow<T>(
  ctx: { log: Logger; waitMs: number; temporal: Client },
  req: Request,
  start: () => Promise<WorkflowHandle>,
  onTimeout: (h: WorkflowHandle) => Promise<unknown>,
  extra: Record<string, unknown> = {},
): Promise<T> {
  const { waitMs } = ctx;
  let handle: WorkflowHandle;
  try {
    handle = await start();
  } catch (err) {
    ctx.log.error({ err, requestId: req.id }, 'AI workflow start failed');
    throw new HttpProblem(503, 'Service Unavailable', 'The workflow engine is unreachable; try again shortly.');
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = Symbol('timeout');
  // The wait for the result is a long poll that retries by itself: once this request is
  // answered it is stopped, or it would outlive the request (and a closed connection).
  const waiting = new AbortController();
  const result$ = ctx.temporal.withAbortSignal(waiting.signal, () => handle.result() as Promise<T>);
  result$.catch(() => undefined);
  try {
    const result = await Promise.race([
      result$,
      new Promise<typeof timedOut>((resolve) => {
        timer = setTimeout(() => resolve(timedOut), waitMs);
      }),
    ]);
    if (result === timedOut) {
      await onTimeout(handle).catch(() => undefined);
      throw new HttpProblem(504, 'Gateway Timeout', `The providers did not answer within ${Math.round(waitMs / 1000)} s; try again.`, extra);
    }
    return result;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    let cause: unknown = err.cause;
    while (cause && !(cause instanceof ApplicationFailure) && (cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
    const failure = cause instanceof ApplicationFailure ? cause : undefined;
    if (failure?.type === ErrorTypes.ContentRefused) {
      throw new HttpProblem(422, 'Content refused', 'body.prompt: was refused by content moderation', {
        errors: [{ field: 'body.prompt', message: 'was refused by content moderation' }],
      });
    }
    if (failure?.type === ErrorTypes.BadInput) {
      throw new HttpProblem(422, 'Unprocessable Content', failure.message, extra);
    }
    if (failure?.type === ErrorTypes.ProviderUnavailable) {
      throw new HttpProblem(503, 'Service Unavailable', 'No provider is available for this request right now.', extra);
    }
    ctx.log.warn({ err, requestId: req.id }, 'AI workflow failed');
    throw new HttpProblem(502, 'Bad Gateway', 'The providers failed to answer this request; try again.', extra);
  } finally {
    clearTimeout(timer);
    waiting.abort();
  }
}
