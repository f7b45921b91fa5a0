/**
 * Starting the erasure workflows (workflows/erase.ts) from the API: a book's
 * DELETE, an admin's DELETE /v1/users/{id} and Clerk's user.deleted. A second
 * request while one runs joins it rather than failing or starting another.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  EBOOK_ID_ATTRIBUTE,
  ERASE_EBOOK_WORKFLOW_TYPE,
  ERASE_USER_WORKFLOW_TYPE,
  eraseEbookWorkflowId,
  eraseUserWorkflowId,
  USER_ID_ATTRIBUTE,
  type EraseEbookInput,
  type EraseUserInput,
} from '../../workflows/shared';

export interface ErasureStarter {
  temporal: Client;
  taskQueue: string;
}

export function startBookErasure(deps: ErasureStarter, input: EraseEbookInput, ownerClerkId: string): Promise<WorkflowHandle> {
  return deps.temporal.workflow.start(ERASE_EBOOK_WORKFLOW_TYPE, {
    workflowId: eraseEbookWorkflowId(input.ebookId),
    taskQueue: deps.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: EBOOK_ID_ATTRIBUTE, value: input.ebookId },
      { key: USER_ID_ATTRIBUTE, value: ownerClerkId },
    ],
  });
}

export function startUserErasure(deps: ErasureStarter, input: EraseUserInput): Promise<WorkflowHandle> {
  return deps.temporal.workflow.start(ERASE_USER_WORKFLOW_TYPE, {
    workflowId: eraseUserWorkflowId(input.clerkUserId),
    taskQueue: deps.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: USER_ID_ATTRIBUTE, value: input.clerkUserId }],
  });
}

/** Waits up to `ms` for the erasure to finish: true when it has. */
export async function finishedWithin(handle: WorkflowHandle, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      handle.result().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
