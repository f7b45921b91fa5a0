/**
 * Re-runs one step of a completed book and publishes the result as the next file
 * version: `chapters` rewrites every chapter's text (the outline stays), then
 * re-renders; `illustrations` redraws every chapter picture and the cover, then
 * re-renders; `pdf` / `epub` re-render that one file from the current manifest and
 * carry the other file over. The previous version's files stay stored.
 */
import { CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { renderStoreAndPublish } from './ending';
import { describeFailure, runBounded } from './helpers';
import { image, store, text } from './proxies';
import type { RevisionInput, RevisionStage } from './revision-shared';
import { COVER_FOLLOWS_TITLE } from './shared';

export async function reviseEbookWorkflow(input: RevisionInput): Promise<{ fileVersion: number }> {
  const { ebookId, step, feedback } = input;
  const revision = input.fromVersion + 1;
  const { workflowId, runId } = workflowInfo();
  const report = (stage: RevisionStage, extra: { error?: { type: string; message: string }; toVersion?: number } = {}) =>
    store.recordRevision({ ebookId, workflowId, runId, step, stage, fromVersion: input.fromVersion, ...extra });
  const indexes = Array.from({ length: input.chapterCount }, (_, i) => i + 1);
  const concurrency = Math.max(1, Math.min(input.concurrency ?? 4, 24));

  try {
    let cover: { key: string; alt: string } | undefined;
    if (step === 'chapters') {
      await report('chapters');
      await runBounded(indexes, concurrency, async (index) => {
        await text.writeChapter({ ebookId, index, revision: { number: revision, feedback } });
      });
    } else if (step === 'illustrations') {
      await report('illustrations');
      const coverPromise = image.drawCover({ ebookId, revision });
      coverPromise.catch(() => undefined); // awaited below; keeps an early chapter failure from leaving it unhandled
      await runBounded(indexes, concurrency, async (index) => {
        await image.drawIllustration({ ebookId, index, revision });
      });
      cover = await coverPromise;
    }
    if (!cover && patched(COVER_FOLLOWS_TITLE)) {
      // A book retitled since its cover was drawn: the cover says the new title, and both
      // files are rendered with it, so the files and the cover agree.
      cover = (await image.redrawCoverIfRetitled({ ebookId, revision })) ?? undefined;
    }
    const manifest = await store.loadManifest({ ebookId, watermark: input.watermark });
    if (cover) Object.assign(manifest, { coverKey: cover.key, coverAlt: cover.alt });
    // A single-file step carries the other file of the current version over unchanged.
    const only =
      (step === 'pdf' || step === 'epub') && !cover ? { file: step, current: await store.currentFiles({ ebookId }) } : undefined;
    // Older inputs carry no printReady, so their histories never reach the patch.
    const withPrint = input.printReady === true && patched('print-pdf-v1');
    const files = await renderStoreAndPublish({
      ebookId,
      manifest,
      printReady: () => withPrint,
      providers: {},
      only,
      onStage: report,
    });
    await report('completed', { toVersion: files.version });
    return { fileVersion: files.version };
  } catch (err) {
    const cancelled = isCancellation(err);
    const error = cancelled
      ? { type: 'Cancelled', message: 'Cancelled by request' }
      : describeFailure(err);
    // Bookkeeping must reach the database even in a cancelled scope.
    await CancellationScope.nonCancellable(() => report(cancelled ? 'cancelled' : 'failed', { error }));
    throw err;
  }
}
