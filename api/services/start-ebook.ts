/**
 * Starting a book, the rules of it: the plan's monthly allowance is reserved
 * before anything is recorded, the row is written, and the workflow starts on the
 * queue the plan places it on. If the engine cannot be reached the row says so and
 * the allowance goes back. The POST /ebooks handler parses, keeps the request
 * idempotent and answers; it maps the two errors below to their problems.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { BookBrief } from '../../core/brief';
import { allowancePeriod, tierRules, type TierRules } from '../../core/tiers';
import type { Profile, Repositories } from '../../db/repositories';
import type { Visibility } from '../../db/sharing';
import {
  DEFAULT_REVIEW_TIMEOUT_MS,
  ebookWorkflowId,
  type EbookWorkflowInput,
  type ReviewKind,
} from '../../workflows/shared';
import type { ebookWorkflow } from '../../workflows/ebook';
import { placement, planMarks, type Queues } from './placement';
import type { EventBus } from '../../db/events';
import { announceRun } from '../ebook-runs';

export interface StartEbookDeps extends Queues {
  repos: Pick<Repositories, 'ebooks' | 'usage'>;
  /** Where the run's `started` event goes (api/ebook-runs.ts). */
  events: Pick<EventBus, 'publish'>;
  temporal: Client;
  chapterConcurrency: number;
  reviewTimeoutMs?: number;
}

export interface StartEbookRequest {
  profile: Profile;
  /** The Clerk user id: the workflow's input and search attribute name the person, not the row. */
  clerkUserId: string;
  brief: BookBrief & { storyId?: string };
  visibility?: Visibility;
  /** Wait for the owner to review the outline before the chapters are written. */
  review?: ReviewKind;
}

/** This month's books of the profile's plan are all taken. */
export class AllowanceUsedUp extends Error {
  constructor(
    readonly tier: Profile['subscriptionTier'],
    readonly rules: TierRules,
    readonly period: string,
  ) {
    super(`allowance of ${tier} used up for ${period}`);
  }
}

/** The workflow could not be started; the book's row is marked failed and its allowance released. */
export class EngineUnavailable extends Error {
  constructor(
    readonly ebookId: string,
    readonly cause: unknown,
  ) {
    super('workflow start failed');
  }
}

export async function startEbook(deps: StartEbookDeps, request: StartEbookRequest): Promise<{ id: string; workflowId: string }> {
  const { repos, temporal } = deps;
  const { profile, brief } = request;
  const rules = tierRules(profile.subscriptionTier);
  const period = allowancePeriod();
  // Reserved before anything is recorded or started: one conditional UPDATE, so
  // concurrent requests can never take more than the plan allows.
  if (!(await repos.usage.reserve(profile.id, period, rules.ebooksPerMonth))) {
    throw new AllowanceUsedUp(profile.subscriptionTier, rules, period);
  }
  const id = randomUUID();
  const workflowId = ebookWorkflowId(id);
  try {
    await repos.ebooks.create({
      id,
      userId: profile.id,
      workflowId,
      prompt: brief.prompt,
      title: 'Untitled book',
      generationSettings: brief,
      stylePreferences: { era: brief.era, style: brief.style, mood: brief.mood },
      visibility: request.visibility,
      originalStoryId: brief.storyId,
    });
    await repos.usage.attach(id, period);
    await announceRun(deps.events, id, { kind: 'book', workflowId, run: 1 });
  } catch (err) {
    await repos.usage.unreserve(profile.id, period);
    throw err;
  }
  const input: EbookWorkflowInput = {
    ebookId: id,
    profileId: profile.id,
    userId: request.clerkUserId,
    brief,
    concurrency: deps.chapterConcurrency,
    ...planMarks(rules),
    // Only set for a review, so every other book's input is as it always was.
    ...(request.review ? { review: request.review, reviewTimeoutMs: deps.reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS } : {}),
  };
  try {
    await temporal.workflow.start<typeof ebookWorkflow>('ebookWorkflow', {
      workflowId,
      args: [input],
      ...placement(deps, rules, id, request.clerkUserId, 'queued'),
      memo: { title: 'Untitled book' },
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
      // Nothing runs for this row: say so on the row rather than leave a book that never moves.
      await repos.ebooks.updateStatus(id, {
        status: 'failed',
        stage: 'failed',
        error: { type: 'StartFailed', message: 'The generation could not be started' },
      });
      await repos.usage.release(id);
      throw new EngineUnavailable(id, err);
    }
  }
  return { id, workflowId };
}
