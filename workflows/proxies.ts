/**
 * The activity proxies every workflow uses, by retry profile. Provider calls back
 * off longer (rate limits); rendering is CPU work that rarely benefits from many
 * attempts; bookkeeping against the database and storage retries quickly and long.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { ErrorTypes } from './shared';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = Object.values(ErrorTypes);

// Text and image providers share one retry profile; they are separate proxies so either can be
// tuned without touching the other (text calls get a longer start-to-close timeout, below).
const PROVIDER_CALLS = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 8,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
} as const;
/**
 * Text calls may take far longer than a cloud model's answer: the `local` model in the worker
 * writes a 400-word chapter (up to ~2,200 tokens with its bounds) at ~50 tokens/s on two free
 * cores but at 2-5 tokens/s on busy ones (measured), and a chapter waits inside its activity for
 * one of the model's few sequences while the others are written (up to CHAPTER_CONCURRENCY = 24
 * chapters). 5 minutes cut such chapters off and retried them from the start, forever. A worker
 * that dies is still noticed within the heartbeat timeout: every text call heartbeats while it
 * streams, and the failover wrapper every 10 s while it waits. (Timeouts are part of the
 * ScheduleActivityTask command but not of what replay compares, so running books replay.)
 */
export const text = proxyActivities<Activities>({ ...PROVIDER_CALLS, startToCloseTimeout: '30 minutes' });
export const image = proxyActivities<Activities>(PROVIDER_CALLS);

export const render = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

/**
 * The quick checks before a book's first provider call (its prompt's moderation,
 * marking it running) run as local activities: in the worker that runs the
 * workflow task, without two round trips through the server before the outline.
 */
export const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '20 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

export const store = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '20 seconds',
    maximumAttempts: 30,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

