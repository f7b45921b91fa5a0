/**
 * Rewrites one chapter of a published book (optionally following the reader's
 * feedback), draws its picture again, re-renders both files and publishes them
 * as a new version. The other chapters and the previous version's files stay.
 */
import { image, render, store, text } from './proxies';
import type { ChapterRewriteInput } from './shared';

export async function regenerateChapterWorkflow(input: ChapterRewriteInput): Promise<{ fileVersion: number }> {
  const { ebookId, index, revision, feedback } = input;
  await text.writeChapter({ ebookId, index, revision: { number: revision, feedback } });
  await image.drawIllustration({ ebookId, index, revision });
  const manifest = await store.loadManifest({ ebookId, watermark: input.watermark });
  const pdf = await render.renderPdf(manifest);
  const epub = await render.renderEpub(manifest);
  const files = await store.storeFiles({ ebookId, pdfKey: pdf.key, epubKey: epub.key, coverKey: manifest.coverKey });
  await store.publishEbook({ ebookId, files, providers: {} });
  return { fileVersion: files.version };
}
