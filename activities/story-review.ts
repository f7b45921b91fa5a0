/**
 * The storyline review of a story run started with `review: 'outline'`: the run
 * marked as waiting (`metadata.generation.stage` = `outline_review`, the storyline
 * in `generation.review`), the owner's edit stored, a revised storyline written from
 * their feedback, a reminder, and the run back to writing once approved. The run's
 * stored outline stays the one source its sections are written from.
 */
import type { BookBrief } from '../core/brief';
import type { OutlineChapterEdit } from '../core/outline-review';
import type { ReviewOutline } from '../workflows/shared';
import type { ActivityDeps } from './deps';
import type { ProviderCalls } from './provider-calls';
import type { Outline } from './providers/types';
import { editedOutline, reviewOutlineOf, revisedOutline } from './review';
import { storyKeys } from './stories';

interface RunRef {
  storyId: string;
  revision: number;
}

export function createStoryReviewActivities(deps: ActivityDeps, calls: ProviderCalls) {
  const { storage } = deps;
  const runs = deps.repos.storyRuns;
  const publish = async ({ storyId, revision }: RunRef, type: string, data: Record<string, unknown>) => {
    await deps.storyEvents?.publish(storyId, type, { revision, ...data });
  };
  const load = async ({ storyId, revision }: RunRef): Promise<Outline> =>
    JSON.parse((await storage.get(storyKeys.outline(storyId, revision))).toString('utf8')) as Outline;

  /** One storyline version stored, on the story, and shown. */
  const show = async (run: RunRef, outline: Outline, version: number, expiresAt: string): Promise<ReviewOutline> => {
    const review = reviewOutlineOf(outline, version, expiresAt);
    await storage.put(storyKeys.outline(run.storyId, run.revision), Buffer.from(JSON.stringify(outline)));
    await runs.progress(run.storyId, run.revision, {
      stage: 'outline_review',
      review,
      sections: { done: 0, total: outline.chapters.length },
    });
    await publish(run, 'outline', { ...review, awaitingReview: true });
    return review;
  };

  return {
    async openStoryOutlineReview(input: RunRef & { expiresAt: string }): Promise<ReviewOutline> {
      await publish(input, 'stage', { stage: 'outline_review' });
      return show(input, await load(input), 1, input.expiresAt);
    },

    async editStoryOutline(
      input: RunRef & { version: number; title?: string; chapters: OutlineChapterEdit[]; expiresAt: string },
    ): Promise<ReviewOutline> {
      return show(input, editedOutline(await load(input), input), input.version, input.expiresAt);
    },

    async reviseStoryOutline(
      input: RunRef & { profileId: string; brief: BookBrief; feedback: string; version: number; expiresAt: string },
    ): Promise<ReviewOutline> {
      const written = await revisedOutline(deps, calls, {
        step: 'story.outline',
        what: `the storyline feedback of story ${input.storyId}`,
        brief: input.brief,
        current: await load(input),
        feedback: input.feedback,
      });
      const owner = { profileId: input.profileId, storyId: input.storyId };
      await calls.recordOwnedCall(owner, 'story.outline', written.producer, written.model, written.usage);
      return show(input, written.outline, input.version, input.expiresAt);
    },

    async remindStoryOutlineReview(input: RunRef & { expiresAt: string }): Promise<void> {
      await publish(input, 'review.reminder', { review: 'outline', expiresAt: input.expiresAt });
    },

    /** Approved: the sections are written from the storyline as it stands. */
    async closeStoryOutlineReview(input: RunRef): Promise<void> {
      await runs.progress(input.storyId, input.revision, { stage: 'writing', review: null });
      await publish(input, 'stage', { stage: 'writing' });
    },
  };
}
