/**
 * Rewrites one chapter of a published book (optionally following the reader's
 * feedback), draws its picture again, re-renders the files (with the print-ready
 * PDF when the owner's plan includes it) and publishes them
 * as a new version. The other chapters and the previous version's files stay.
 */
import { patched } from '@temporalio/workflow';
import { renderStoreAndPublish } from './ending';
import { image, store, text } from './proxies';
import { COVER_FOLLOWS_TITLE, type ChapterRewriteInput } from './shared';

export async function regenerateChapterWorkflow(input: ChapterRewriteInput): Promise<{ fileVersion: number }> {
  const { ebookId, index, revision, feedback } = input;
  await text.writeChapter({ ebookId, index, revision: { number: revision, feedback } });
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
  });
  return { fileVersion: files.version };
}
