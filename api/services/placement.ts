/**
 * What a plan decides about a run it starts: the queue it runs on (the paid
 * plans' priority queue when this deployment has one), the search attributes an
 * operator finds it by, and the watermark and print-ready files it makes.
 * A new book, a chapter rewrite and a step run again all start the same way.
 */
import type { TierRules } from '../../core/tiers';
import { EBOOK_ID_ATTRIBUTE, STAGE_ATTRIBUTE, USER_ID_ATTRIBUTE } from '../../workflows/shared';

export interface Queues {
  taskQueue: string;
  /** The paid plans' queue; unset sends every run to `taskQueue`. */
  priorityTaskQueue?: string;
}

/**
 * Where a book's workflow runs (the paid plans' priority queue when there is one)
 * and the search attributes an operator finds it by.
 */
export function placement(
  queues: Queues,
  rules: { priorityQueue: boolean },
  ebookId: string,
  userId: string,
  stage: string,
) {
  return {
    taskQueue: rules.priorityQueue && queues.priorityTaskQueue ? queues.priorityTaskQueue : queues.taskQueue,
    typedSearchAttributes: [
      { key: EBOOK_ID_ATTRIBUTE, value: ebookId },
      { key: USER_ID_ATTRIBUTE, value: userId },
      { key: STAGE_ATTRIBUTE, value: stage },
    ],
  };
}

/** The plan's marks on the files a run makes (spread where the workflow input lists them). */
export function planMarks(rules: Pick<TierRules, 'name' | 'watermark' | 'printReady'>) {
  return {
    watermark: rules.watermark ? `Made with the ${rules.name} plan` : undefined,
    printReady: rules.printReady || undefined,
  };
}
