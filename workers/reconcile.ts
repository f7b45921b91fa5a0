/**
 * Books whose workflow ended without saying so on their row. A workflow writes its
 * own end (completed, failed, cancelled) as its last steps, but one that is
 * terminated (an operator's button in the Web UI, `temporal workflow terminate`)
 * or that times out runs no more code: its book stayed "running" for ever, its
 * allowance reserved, its SSE readers waiting. The workers sweep for them: Temporal
 * visibility lists the engine's workflows that closed that way, and each book whose
 * row still points at such a run, with no newer run of the same workflow id going,
 * is marked failed (its allowance given back, a `failed` event sent); a revision is
 * marked failed on the book's `revision` column; a story run is failed as its own
 * last step would have (a rewrite puts the story back as it was), so the story can
 * be generated again instead of answering 409 for ever. One worker process sweeps at a time
 * (a PostgreSQL advisory lock); the others skip that round.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Repositories } from '../db/repositories';
import type { EventBus } from '../db/events';
import type { Logger } from '../lib/logger';
import { isWorkflowRunning } from '../wiring/temporal';
import { REVISION_WORKFLOW_TYPE, type RevisionState } from '../workflows/revision-shared';
import { STORY_WORKFLOW_TYPE } from '../workflows/story-ai-shared';
import { announceRunEnd } from '../db/story-generation';
import { finishBook } from '../activities';
import { createRevisionActivities } from '../activities/revisions';

/** Arbitrary, fixed: the advisory lock that makes one process the sweeper of a round. */
const SWEEP_LOCK = 0x7e5c_0b01;

export interface ReconcileDeps {
  repos: Repositories;
  events: EventBus;
  /** Stories' events: a story's readers hear that its run failed. */
  storyEvents?: EventBus;
  temporal: Client;
  log?: Logger;
}

export interface Reconciled {
  ebookId: string;
  workflowId: string;
  runId: string;
  /** How the run ended in Temporal: TERMINATED, TIMED_OUT or FAILED. */
  closedAs: string;
  what: 'book' | 'revision' | 'story';
  /** The story's id when `what` is 'story' (ebookId is then empty). */
  storyId?: string;
}

/** How Temporal's closing status reads to the book's owner. */
function errorFor(status: string): { type: string; message: string } {
  switch (status) {
    case 'TERMINATED':
      return { type: 'Terminated', message: 'The generation was stopped by an operator' };
    case 'TIMED_OUT':
      return { type: 'TimedOut', message: 'The generation ran out of time' };
    default:
      return { type: 'WorkflowFailed', message: 'The generation failed before it could record why' };
  }
}

/**
 * One sweep: the engine's book, revision and story workflows that closed as terminated,
 * timed out or failed after `since`, matched against their rows. Returns what it fixed.
 */
export async function reconcileClosedWorkflows(deps: ReconcileDeps, since: Date): Promise<Reconciled[]> {
  const { repos, events, temporal } = deps;
  const revisions = createRevisionActivities({ repos, events });
  const fixed: Reconciled[] = [];
  const query =
    `WorkflowType IN ('ebookWorkflow', '${REVISION_WORKFLOW_TYPE}', '${STORY_WORKFLOW_TYPE}') ` +
    `AND ExecutionStatus IN ('Terminated', 'TimedOut', 'Failed') AND CloseTime > '${since.toISOString()}'`;
  const closed: WorkflowExecutionInfo[] = [];
  for await (const wf of temporal.workflow.list({ query })) closed.push(wf);

  for (const wf of closed) {
    const closedAs = wf.status.name;
    if (wf.type === 'ebookWorkflow') {
      const row = await repos.reconcile.openBookOf(wf.workflowId);
      if (!row || (await isWorkflowRunning(temporal, wf.workflowId))) continue;
      // What the workflow's own last step (finishEbook) would have done.
      if (await finishBook({ repos, events }, { ebookId: row.id, status: 'failed', error: errorFor(closedAs), runId: wf.runId })) {
        fixed.push({ ebookId: row.id, workflowId: wf.workflowId, runId: wf.runId, closedAs, what: 'book' });
      }
    } else if (wf.type === STORY_WORKFLOW_TYPE) {
      const story = await repos.reconcile.generatingStoryOf(wf.workflowId);
      if (!story || (await isWorkflowRunning(temporal, wf.workflowId))) continue;
      const generation = (story.metadata?.generation ?? {}) as { revision?: number; previousStatus?: string };
      // As the workflow's failStory would: a failed rewrite leaves the story as it was before it.
      const revision = Number(generation.revision ?? 1);
      const error = errorFor(closedAs);
      if (await repos.storyRuns.failRun(story.id, revision, generation.previousStatus, error)) {
        await announceRunEnd(deps.storyEvents, story.id, revision, error);
        fixed.push({ ebookId: '', storyId: story.id, workflowId: wf.workflowId, runId: wf.runId, closedAs, what: 'story' });
      }
    } else {
      const row = await repos.reconcile.runningRevisionOf(wf.runId);
      if (!row || (await isWorkflowRunning(temporal, wf.workflowId))) continue;
      const revision = row.revision as RevisionState;
      // What the revision's own last step (recordRevision) would have done: its chapters done again.
      await revisions.recordRevision({
        ebookId: row.id,
        workflowId: revision.workflowId,
        runId: revision.runId,
        step: revision.step,
        stage: 'failed',
        fromVersion: revision.fromVersion,
        error: errorFor(closedAs),
      });
      fixed.push({ ebookId: row.id, workflowId: wf.workflowId, runId: wf.runId, closedAs, what: 'revision' });
    }
  }
  return fixed;
}

export interface ReconcilerOptions {
  /** Between sweeps (default 60 s). */
  intervalMs?: number;
  /** How far back a sweep looks for closed runs (default 7 days: workers down for a while miss nothing). */
  lookbackMs?: number;
}

/** Sweeps every `intervalMs` in the background, one process at a time; `stop()` waits for a running sweep. */
export function startReconciler(deps: ReconcileDeps, opts: ReconcilerOptions = {}): { stop(): Promise<void> } {
  const intervalMs = opts.intervalMs ?? 60_000;
  const lookbackMs = opts.lookbackMs ?? 7 * 24 * 3600_000;
  let running: Promise<void> | undefined;
  let stopped = false;

  const sweep = async () => {
    // The lock lives as long as this transaction: held through the sweep, released however it ends.
    await deps.repos.reconcile.withLock(SWEEP_LOCK, async () => {
      const fixed = await reconcileClosedWorkflows(deps, new Date(Date.now() - lookbackMs));
      for (const f of fixed) deps.log?.warn(f, 'marked failed: its workflow ended without recording it');
    });
  };
  const tick = () => {
    if (stopped || running) return;
    running = sweep()
      .catch((err) => deps.log?.warn({ err }, 'reconcile sweep failed; the next one tries again'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  setTimeout(tick, Math.min(intervalMs, 5_000)).unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
