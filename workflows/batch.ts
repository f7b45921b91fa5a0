/**
 * Scheduled batch re-generation: what `npm run regenerate` does from a terminal,
 * as a workflow a Temporal Schedule starts (`npm run regenerate -- --schedule`).
 * Selects the books, then re-runs each as a child ebook workflow with the id
 * `regen-<label>-<ebookId>`, at most `concurrency` at once. The label comes from
 * the run's scheduled time, so a run retried or replayed starts nothing twice,
 * and a child refused as a duplicate counts as skipped.
 */
import {
  ParentClosePolicy,
  proxyActivities,
  startChild,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { BatchActivities } from '../activities/batch';
import { EBOOK_WORKFLOW_TYPE } from './shared';
import {
  batchWorkflowId,
  regenerationSearchAttributes,
  regenWorkflowId,
  type BatchBook,
  type BatchRegenerateInput,
  type BatchRegenerateResult,
} from './batch-shared';

const batch = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
});

/** This run's label: the prefix plus the scheduled time Temporal put in the workflow id (else the start time). */
function runLabel(input: BatchRegenerateInput): string {
  if (input.run) return input.run;
  const info = workflowInfo();
  const base = `${batchWorkflowId(input.labelPrefix)}-`;
  const stamp = info.workflowId.startsWith(base) ? info.workflowId.slice(base.length) : info.startTime.toISOString();
  return `${input.labelPrefix}-${stamp.replace(/[^0-9TZ]/g, '')}`;
}

/** The innermost failure message. */
function causeMessage(err: unknown): string {
  let cur = err as { cause?: unknown; message?: string } | undefined;
  while (cur && typeof cur === 'object' && cur.cause) cur = cur.cause as typeof cur;
  return (cur && cur.message) || String(err);
}

export async function batchRegenerateWorkflow(input: BatchRegenerateInput): Promise<BatchRegenerateResult> {
  const run = runLabel(input);
  const books = await batch.selectBooksForRegeneration({ selection: input.selection, run });
  const result: BatchRegenerateResult = { run, selected: books.length, completed: 0, failed: 0, skipped: 0, failures: [] };
  const taskQueue = input.taskQueue ?? workflowInfo().taskQueue;

  const one = async (book: BatchBook): Promise<void> => {
    if (book.alreadyStarted) {
      result.skipped++;
      return;
    }
    const prepared = await batch.prepareRegeneration({
      selection: input.selection,
      run,
      ebookId: book.ebookId,
      chapterConcurrency: input.chapterConcurrency ?? 4,
    });
    if ('skip' in prepared) {
      result.skipped++;
      return;
    }
    let child;
    try {
      child = await startChild(EBOOK_WORKFLOW_TYPE, {
        workflowId: regenWorkflowId(run, book.ebookId),
        taskQueue,
        args: [prepared.input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        // A batch that is terminated leaves the books it started running to the end.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: regenerationSearchAttributes({ id: book.ebookId, clerkUserId: prepared.clerkUserId }),
        memo: { title: book.title, regeneration: run },
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        result.skipped++;
        return;
      }
      throw err;
    }
    try {
      await child.result();
      result.completed++;
    } catch (err) {
      result.failed++;
      result.failures.push(`${book.ebookId}: ${causeMessage(err)}`);
    }
  };

  let next = 0;
  const lane = async () => {
    while (next < books.length) await one(books[next++]);
  };
  const lanes = Math.max(1, Math.min(input.concurrency, books.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return result;
}
