/**
 * The engine's activities, composed from one factory a stage (outline, chapters,
 * pictures, files, publish; the outline's review) plus stories, AI services and revisions, all over the
 * same dependencies (./deps.ts), so the worker wires real clients once and tests
 * wire their own.
 *
 * Each activity stores what it produces and returns a reference; anything long
 * heartbeats; failures no retry can fix are non-retryable with a named type.
 */
import { createAiActivities } from './ai';
import { createAiServiceActivities } from './ai-services';
import { createBookReads } from './book-reads';
import { createChapterActivities } from './chapters';
import { createErasureActivities } from './erasure';
import type { ActivityDeps } from './deps';
import { createFileActivities } from './files';
import { createOutlineActivities } from './outline';
import { createPictureActivities } from './pictures';
import { createProviderCalls } from './provider-calls';
import { createPublishActivities } from './publish';
import { createReviewActivities } from './review';
import { createRevisionActivities } from './revisions';
import { createStoryActivities } from './stories';
import { createStoryReviewActivities } from './story-review';
import { createStoryBookSteps } from './story-books';

export type { ActivityDeps, StoredChapter } from './deps';
export { finishBook } from './publish';

export function createActivities(deps: ActivityDeps) {
  const calls = createProviderCalls(deps);
  // A reset book's run closes the breakers: the operator fixed what tripped them.
  const reads = createBookReads(deps, { onReopened: () => calls.closeBreakers() });
  const fromStory = createStoryBookSteps(deps);
  return {
    ...createRevisionActivities(deps),
    ...createStoryActivities(deps, calls),
    ...createStoryReviewActivities(deps, calls),
    ...createAiActivities(deps, calls),
    ...createAiServiceActivities(deps, calls),
    ...createOutlineActivities(deps, calls, reads, fromStory),
    ...createReviewActivities(deps, calls, reads),
    ...createChapterActivities(deps, calls, reads, fromStory),
    ...createPictureActivities(deps, calls, reads),
    ...createFileActivities(deps, calls, reads),
    ...createPublishActivities(deps, reads),
    ...createErasureActivities(deps),
  };
}
