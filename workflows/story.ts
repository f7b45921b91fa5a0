/**
 * One run of a story: moderate the brief → storyline (→ its owner's review, when
 * asked for) → sections (a few at once)
 * → put the text on the story. A rewrite is the next revision's run; the story
 * keeps its previous text until the new one is stored. Sections are stored by
 * the activities: history holds their keys only.
 */
import { CancellationScope, isCancellation, log } from '@temporalio/workflow';
import { store, text } from './proxies';
import { describeFailure, runBounded } from './helpers';
import { awaitStoryOutlineReview } from './outline-review';
import type { StoryWorkflowInput } from './story-ai-shared';

/** Sections written at once per story. */
const SECTION_CONCURRENCY = 3;

export async function storyWorkflow(input: StoryWorkflowInput): Promise<{ storyId: string; revision: number; title: string }> {
  const { storyId, revision, profileId, brief, feedback } = input;
  try {
    await text.moderateStoryPrompt({ storyId, brief, feedback });
    const outline = await text.writeStoryOutline({ storyId, profileId, revision, brief, feedback });
    let sections = outline.sections;
    // Only runs started with a review take this branch: other runs' commands are as they were.
    if (input.review === 'outline') sections = (await awaitStoryOutlineReview(input)).chapters.length;
    const sectionKeys: string[] = [];
    const indexes = Array.from({ length: sections }, (_, i) => i + 1);
    await runBounded(indexes, SECTION_CONCURRENCY, async (index) => {
      const ref = await text.writeStorySection({ storyId, profileId, revision, index, brief, feedback });
      sectionKeys[index - 1] = ref.key;
    });
    await store.completeStory({ storyId, revision, outlineKey: outline.outlineKey, sectionKeys });
    return { storyId, revision, title: outline.title };
  } catch (err) {
    const error = isCancellation(err) ? { type: 'Cancelled', message: 'Cancelled by request' } : describeFailure(err);
    log.warn('story failed', { storyId, revision, error });
    // Bookkeeping must reach the database even when the run was cancelled.
    await CancellationScope.nonCancellable(() => store.failStory({ storyId, revision, error }));
    throw err;
  }
}
