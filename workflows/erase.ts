/**
 * Erasure as durable workflows: deleting a book, and erasing a user (Clerk's
 * user.deleted, or an admin's DELETE /v1/users/{id}). Each stops what is still
 * running, deletes the rows, then deletes every stored object under the owner's
 * prefixes, retrying storage for as long as it takes (a store that is down for a
 * day still ends empty), and records an audit entry with counts, never content.
 */
import { getExternalWorkflowHandle, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  erasurePrefixes,
  ErrorTypes,
  type ErasureCounts,
  type ErasureRequest,
  type EraseEbookInput,
  type EraseUserInput,
} from './shared';

type Activities = ReturnType<typeof createActivities>;

const db = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 30,
    nonRetryableErrorTypes: Object.values(ErrorTypes),
  },
});

// No attempt limit: the erasure is only done when storage holds nothing of it.
const storage = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/** How long the runs being cancelled get to record their end before the rows go anyway. */
const STOP_GRACE_CHECKS = 12;
const STOP_CHECK_INTERVAL = '5 seconds';

/**
 * Cancels the runs still going and waits (briefly) for them to record their end,
 * so a chapter being written does not land in storage after the erasure.
 */
async function stopRuns(find: () => Promise<string[]>): Promise<number> {
  const running = await find();
  for (const id of running) {
    try {
      await getExternalWorkflowHandle(id).cancel();
    } catch {
      // Already closed (or never started): nothing to stop.
    }
  }
  for (let i = 0; i < STOP_GRACE_CHECKS && running.length > 0; i++) {
    await sleep(STOP_CHECK_INTERVAL);
    if ((await find()).length === 0) break;
  }
  return running.length;
}

async function audit(kind: 'ebook' | 'user', subjectId: string, request: ErasureRequest, counts: ErasureCounts) {
  await db.recordErasure({
    workflowId: workflowInfo().workflowId,
    subjectKind: kind,
    subjectId,
    requestedBy: request.requestedBy,
    source: request.source,
    counts,
    requestedAt: request.requestedAt,
  });
}

/** Deletes one book: its row (events, ledger lines), then every stored object of it. */
export async function eraseEbookWorkflow(input: EraseEbookInput): Promise<ErasureCounts> {
  const stopped = await stopRuns(() => db.runningWork({ ebookId: input.ebookId }));
  const rows = await db.deleteBookRows({ ebookId: input.ebookId });
  const { objects } = await storage.eraseStored({ prefixes: [erasurePrefixes.ebook(input.ebookId)] });
  const counts = { ...rows, objects, runsStopped: stopped };
  await audit('ebook', input.ebookId, input, counts);
  return counts;
}

/**
 * Erases a user: cancels their running books and stories, deletes every row of
 * theirs (profile, books, stories, activity, ledger, stored answers), then their
 * books', stories' and pictures' stored objects.
 */
export async function eraseUserWorkflow(input: EraseUserInput): Promise<ErasureCounts> {
  const found = await db.findUserData({ clerkUserId: input.clerkUserId });
  if (!found) {
    // No profile (never used the engine, or erased already): nothing stored either.
    await audit('user', input.clerkUserId, input, { profiles: 0 });
    return { profiles: 0 };
  }
  const stopped = await stopRuns(() => db.runningWork({ profileId: found.profileId }));
  // A book or story started while the runs stopped is listed again here, not left behind.
  const latest = (await db.findUserData({ clerkUserId: input.clerkUserId })) ?? found;
  const rows = await db.deleteUserRows({ profileId: found.profileId, clerkUserId: input.clerkUserId });
  const prefixes = [
    ...new Set([...found.ebookIds, ...latest.ebookIds].map(erasurePrefixes.ebook)),
    ...new Set([...found.storyIds, ...latest.storyIds].map(erasurePrefixes.story)),
    erasurePrefixes.user(found.profileId),
  ];
  const { objects } = await storage.eraseStored({ prefixes });
  const counts = { ...rows, objects, runsStopped: stopped };
  await audit('user', input.clerkUserId, input, counts);
  return counts;
}
