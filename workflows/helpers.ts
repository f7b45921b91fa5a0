/**
 * Small helpers the workflows share: bounded fan-out and naming a failure's cause.
 * Their own module so that no workflow imports another workflow's file for them.
 * Workflow code imports this module: no Node built-ins, no I/O.
 */
import { ApplicationFailure } from '@temporalio/workflow';

/** Runs `fn` over `items` with at most `limit` in flight; fails fast on the first error. */
export async function runBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** The innermost application failure names the real cause (activity failures wrap it). */
export function describeFailure(err: unknown): { type: string; message: string } {
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && 'cause' in cur && (cur as { cause?: unknown }).cause) {
    cur = (cur as { cause?: unknown }).cause;
  }
  if (cur instanceof ApplicationFailure) {
    return { type: cur.type ?? 'Error', message: cur.message };
  }
  return { type: 'Error', message: cur instanceof Error ? cur.message : String(cur) };
}
