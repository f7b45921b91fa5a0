/**
 * Rewrites one chapter of a published book (optionally following the reader's
 * feedback), draws its picture again, re-renders the files (with the print-ready
 * PDF when the owner's plan includes it) and publishes them
 * as a new version. The other chapters and the previous version's files stay.
 */
import { CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { renderStoreAndPublish } from './ending';
import { describeFailure } from './helpers';
import { image, store, text } from './proxies';
import type { RevisionStage } from './revision-shared';
import { COVER_FOLLOWS_TITLE, type ChapterRewriteInput } from './shared';

/**
 * The rewrite reports its stages and its end on the book row (`/status` `revision`)
 * and the event stream, as a whole-book revision does; histories from before the
 * patch never report.
 */
const CHAPTER_REWRITE_REPORTS = 'chapter-rewrite-reports-v1';

export async function regenerateChapterWorkflow(input: ChapterRewriteInput): Promise<{ fileVersion: number }> {
  const { ebookId, index, revision } = input;
  const reports = patched(CHAPTER_REWRITE_REPORTS);
  const { workflowId, runId } = workflowInfo();
  const report = async (stage: RevisionStage, extra: { error?: { type: string; message: string }; toVersion?: number } = {}) => {
    if (reports) {
      await store.recordRevision({ ebookId, workflowId, runId, step: 'chapters', chapter: index, stage, fromVersion: revision - 1, ...extra });
    }
  };
  try {
    const files = await rewrite(input, report, reports);
    await report('completed', { toVersion: files.version });
    return { fileVersion: files.version };
  } catch (err) {
    if (reports) {
      const cancelled = isCancellation(err);
      const error = cancelled ? { type: 'Cancelled', message: 'Cancelled by request' } : describeFailure(err);
      // Bookkeeping must reach the database even in a cancelled scope.
      await CancellationScope.nonCancellable(() => report(cancelled ? 'cancelled' : 'failed', { error }));
    }
    throw err;
  }
}

async function rewrite(input: ChapterRewriteInput, report: (stage: RevisionStage) => Promise<void>, reports: boolean) {
  const { ebookId, index, revision, feedback } = input;
  await report('chapters');
  await text.writeChapter({ ebookId, index, revision: { number: revision, feedback } });
  await report('illustrations');
  await image.drawIllustration({ ebookId, index, revision });
  // A book retitled since its cover was drawn gets a cover that says so (histories from
  // before the patch never ask).
  const cover = patched(COVER_FOLLOWS_TITLE) ? await image.redrawCoverIfRetitled({ ebookId, revision }) : null;
  const manifest = await store.loadManifest({ ebookId, watermark: input.watermark });
  if (cover) Object.assign(manifest, { coverKey: cover.key, coverAlt: cover.alt });
  const files = await renderStoreAndPublish({
    ebookId,
    manifest,
    // Older inputs carry no printReady, so their histories never reach the patch.
    printReady: () => !!input.printReady && patched('print-pdf-v1'),
    providers: {},
    ...(reports ? { onStage: report } : {}),
  });
  return files;
}
