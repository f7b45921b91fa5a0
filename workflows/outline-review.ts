/**
 * The outline review of a book (or a story) started with `review: 'outline'`:
 * after its outline the run waits, durably and at no cost, for its owner's answer
 * through the `reviewOutline` update (approve, edit, revise). The update's
 * validator refuses a bad answer before anything reaches history; an answer
 * restarts the clock, a reminder goes out a day before it runs out (halfway, for
 * shorter reviews), and an unanswered review ends with a ReviewTimedOut failure
 * (ebook.ts books it as a cancellation). Only runs that asked for a review come
 * here, so the histories of every other run replay as they were recorded.
 */
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import { answerProblem, type OutlineAnswer, type OutlineChapterEdit } from '../core/outline-review';
import { store, text } from './proxies';
import {
  DEFAULT_REVIEW_TIMEOUT_MS,
  outlineQuery,
  ReviewErrorTypes,
  reviewOutlineUpdate,
  type EbookState,
  type EbookWorkflowInput,
  type OutlineRef,
  type ReviewOutline,
  type Stage,
} from './shared';
import type { StoryWorkflowInput } from './story-ai-shared';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What one kind of run does at each turn of its review; each step is an activity. */
export interface ReviewSteps {
  open(expiresAt: string): Promise<ReviewOutline>;
  edit(edit: { title?: string; chapters: OutlineChapterEdit[] }, version: number, expiresAt: string): Promise<ReviewOutline>;
  revise(feedback: string, version: number, expiresAt: string): Promise<ReviewOutline>;
  remind(expiresAt: string): Promise<void>;
  close(): Promise<void>;
  /** The outline the run now holds (the first one, and each changed one). */
  hold(review: ReviewOutline): void;
}

/** Waits for the owner's approval of the outline; returns the approved outline. */
export async function awaitReview(reviewTimeoutMs: number | undefined, steps: ReviewSteps): Promise<ReviewOutline> {
  const timeoutMs = Math.max(1000, reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS);
  const reminderLeadMs = Math.min(DAY_MS, timeoutMs / 2);
  let deadline = Date.now() + timeoutMs;
  const expiresAt = () => new Date(deadline).toISOString();

  let current = await steps.open(expiresAt());
  let waiting = true;
  let approved = false;
  let busy = false;
  let answers = 0;
  let reminded = false;
  const hold = (review: ReviewOutline) => {
    current = review;
    steps.hold(review);
  };
  hold(current);

  setHandler(outlineQuery, () => (waiting ? current : null));
  setHandler(
    reviewOutlineUpdate,
    async (answer: OutlineAnswer): Promise<ReviewOutline> => {
      // One answer at a time, in the order they came: a revision takes a provider call.
      while (busy) await condition(() => !busy);
      if (!waiting) throw notWaiting();
      busy = true;
      try {
        deadline = Date.now() + timeoutMs;
        reminded = false;
        if (answer.action === 'approve') {
          approved = true;
          waiting = false;
          return current;
        }
        const version = current.version + 1;
        if (answer.action === 'edit') {
          hold(await steps.edit({ title: answer.title, chapters: answer.chapters }, version, expiresAt()));
        } else {
          hold(await steps.revise(answer.feedback, version, expiresAt()));
        }
        return current;
      } finally {
        answers++;
        busy = false;
      }
    },
    {
      // Runs before the update is accepted: a refusal here writes nothing to history.
      validator: (answer: OutlineAnswer) => {
        if (!waiting) throw notWaiting();
        const problem = answerProblem(answer);
        if (problem) {
          throw ApplicationFailure.create({
            type: ReviewErrorTypes.InvalidAnswer,
            message: `${problem.field}: ${problem.message}`,
            details: [problem],
            nonRetryable: true,
          });
        }
      },
    },
  );

  for (;;) {
    while (busy) await condition(() => !busy);
    if (approved) break;
    const now = Date.now();
    if (now >= deadline) {
      waiting = false;
      throw ApplicationFailure.create({
        type: ReviewErrorTypes.ReviewTimedOut,
        message: `The outline was not reviewed within ${spoken(timeoutMs)}`,
        nonRetryable: true,
      });
    }
    const remindAt = deadline - reminderLeadMs;
    const wake = !reminded && remindAt > now ? remindAt : deadline;
    const seen = answers;
    const answered = await condition(() => busy || approved || answers !== seen, wake - now);
    if (!answered && wake === remindAt) {
      reminded = true;
      await steps.remind(expiresAt());
    }
  }

  await steps.close();
  return current;
}

/** A book's review: its row says `awaiting_review`, and the approved plan is what the chapters follow. */
export async function awaitOutlineReview(
  input: EbookWorkflowInput,
  written: OutlineRef,
  state: EbookState,
  setStage: (stage: Stage) => void,
): Promise<OutlineRef> {
  const { ebookId } = input;
  const approved = await awaitReview(input.reviewTimeoutMs, {
    open: (expiresAt) => store.openOutlineReview({ ebookId, expiresAt }),
    edit: ({ title, chapters }, version, expiresAt) => store.editOutline({ ebookId, version, title, chapters, expiresAt }),
    revise: (feedback, version, expiresAt) => text.reviseOutline({ ebookId, brief: input.brief, feedback, version, expiresAt }),
    remind: (expiresAt) => store.remindOutlineReview({ ebookId, expiresAt }),
    close: () => store.closeOutlineReview({ ebookId }),
    hold: (review) => {
      state.title = review.title;
      state.chapters = review.chapters.map((c) => ({ index: c.index, title: c.title, status: 'pending' }));
      if (state.status !== 'awaiting_review') {
        state.status = 'awaiting_review';
        setStage('outline_review');
      }
    },
  });
  state.status = 'running';
  return {
    ...written,
    title: approved.title,
    chapters: approved.chapters.map((c) => ({ index: c.index, title: c.title })),
  };
}

/** A story run's review: the story shows the storyline under review; the approved one is written. */
export function awaitStoryOutlineReview(input: StoryWorkflowInput): Promise<ReviewOutline> {
  const { storyId, revision, profileId } = input;
  return awaitReview(input.reviewTimeoutMs, {
    open: (expiresAt) => store.openStoryOutlineReview({ storyId, revision, expiresAt }),
    edit: ({ title, chapters }, version, expiresAt) => store.editStoryOutline({ storyId, revision, version, title, chapters, expiresAt }),
    revise: (feedback, version, expiresAt) =>
      text.reviseStoryOutline({ storyId, revision, profileId, brief: input.brief, feedback, version, expiresAt }),
    remind: (expiresAt) => store.remindStoryOutlineReview({ storyId, revision, expiresAt }),
    close: () => store.closeStoryOutlineReview({ storyId, revision }),
    hold: () => undefined,
  });
}

/** "7 days", "12 hours", "8 seconds": the review's length as the owner reads it. */
function spoken(ms: number): string {
  const units: Array<[string, number]> = [['day', DAY_MS], ['hour', 3_600_000], ['minute', 60_000], ['second', 1000]];
  const [name, size] = units.find(([, size]) => ms >= size) ?? units[units.length - 1];
  const n = Math.round(ms / size);
  return `${n} ${name}${n === 1 ? '' : 's'}`;
}

const notWaiting = () =>
  ApplicationFailure.create({
    type: ReviewErrorTypes.NotAwaitingReview,
    message: 'The outline is not waiting to be reviewed',
    nonRetryable: true,
  });
