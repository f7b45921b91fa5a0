/**
 * The AI services' workflows (issue 22). Chapters from a text or a story: split
 * and title, then (when asked) rewrite every chapter at once, then record the
 * end in the job's document, a failure included, so a reader of
 * `GET /v1/ai/chapters/{id}` sees it. An upscale is one activity the API waits
 * for, like the single pictures of ./ai.ts.
 */
import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { ErrorTypes } from './shared';
import type { EnhanceImageInput, SplitChaptersInput } from './ai-services-shared';
import type { DrawnPicture } from './story-ai-shared';

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: Object.values(ErrorTypes),
};

const work = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '60 seconds',
  retry: { ...retry, maximumAttempts: 8 },
});

/** Short retries: the API waits for the answer. */
const interactive = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '45 seconds',
  heartbeatTimeout: '20 seconds',
  retry: { ...retry, maximumInterval: '5 seconds', maximumAttempts: 6 },
});

export async function splitChaptersWorkflow(input: SplitChaptersInput): Promise<{ chapters: number; provider: string }> {
  try {
    const { titles, provider } = await work.splitServiceChapters(input);
    let producer = provider;
    if (input.rewrite) {
      const rewritten = await Promise.all(titles.map((_, i) => work.rewriteServiceChapter(input, i + 1, titles)));
      producer = rewritten[0]?.provider ?? provider;
    }
    await work.finishServiceChapters(input, { provider: producer });
    return { chapters: titles.length, provider: producer };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const failure = cause instanceof ApplicationFailure ? cause : err instanceof ApplicationFailure ? err : undefined;
    const error = isCancellation(err)
      ? { type: 'Cancelled', message: 'Cancelled by request' }
      : { type: failure?.type ?? 'Failed', message: failure?.message ?? (err as Error).message ?? 'The chapters could not be made' };
    // Recorded even when cancelled, so the job does not read "running" for ever.
    await CancellationScope.nonCancellable(() => work.finishServiceChapters(input, { error }));
    throw err;
  }
}

export async function enhanceImageWorkflow(input: EnhanceImageInput): Promise<DrawnPicture> {
  return interactive.upscalePicture(input);
}
