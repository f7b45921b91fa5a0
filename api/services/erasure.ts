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
/**
 * An administrator's erasure of a user (`DELETE /v1/users/{id}`, `DELETE /v1/auth/users/{id}`):
 * the workflow is started and answered for at once, since cancelling the user's runs and
 * deleting their rows and files takes a while. Undefined when there is no such user.
 */
export async function eraseUserByAdmin(
  deps: ErasureStarter,
  repos: { profiles: { getByClerkId(id: string): Promise<unknown> } },
  clerkUserId: string,
  adminId: string,
): Promise<{ userId: string; workflowId: string; status: 'erasing' } | undefined> {
  if (!(await repos.profiles.getByClerkId(clerkUserId))) return undefined;
  const handle = await startUserErasure(deps, {
    clerkUserId,
    requestedBy: adminId,
    source: 'admin',
    requestedAt: new Date().toISOString(),
  });
  return { userId: clerkUserId, workflowId: handle.workflowId, status: 'erasing' };
}

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
