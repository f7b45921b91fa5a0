/**
 * The first run's longer stages, written out here so that ebook.ts reads as the
 * book's story: the checks before the outline, and the chapters written and
 * illustrated. Their patches stay as they were: running books' histories
 * recorded them at these points.
 */
import { patched } from '@temporalio/workflow';
import { runBounded } from './helpers';
import { image, local, store, text } from './proxies';
import type { BookManifest, ChapterRef, EbookState, EbookWorkflowInput, ImageRef, OutlineRef } from './shared';

/** Chapters (with their illustrations) in flight at once, per book. */
const DEFAULT_CONCURRENCY = 4;

/** Moderates the brief and marks the book running, before the outline. */
export async function moderateAndStart({ ebookId, brief }: EbookWorkflowInput): Promise<void> {
  if (patched('local-start-v1')) {
    // Both quick, both needed before the outline: at once, in this worker. Both settle
    // before a failure is handled, so a late "running" can't overwrite the "failed".
    const settled = await Promise.allSettled([local.moderatePrompt({ ebookId, brief }), local.startEbook({ ebookId })]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
  } else {
    // Moderation came after books were already running: the patch keeps their histories replayable.
    if (patched('moderation-v1')) {
      await text.moderatePrompt({ ebookId, brief });
    }
    await store.startEbook({ ebookId });
  }
}

export interface WrittenChapters {
  chapterRefs: ChapterRef[];
  imageRefs: Array<ImageRef | undefined>;
}

/**
 * Writes every chapter of the outline and draws its picture, keeping `state`'s
 * chapters (for the `state` query) up to date as each moves on.
 */
export async function writeAndIllustrate(
  input: EbookWorkflowInput,
  outline: OutlineRef,
  state: EbookState,
): Promise<WrittenChapters> {
  const { ebookId } = input;
  const chapterRefs: ChapterRef[] = [];
  const imageRefs: Array<ImageRef | undefined> = [];
  const concurrency = Math.max(1, Math.min(input.concurrency ?? DEFAULT_CONCURRENCY, 24));
  const write = async (index: number) => {
    const chapter = state.chapters[index - 1];
    chapter.status = 'writing';
    const ref = await text.writeChapter({ ebookId, index });
    chapterRefs[index - 1] = ref;
    Object.assign(chapter, { status: 'illustrating', words: ref.words, textProvider: ref.provider });
  };
  const illustrate = async (index: number) => {
    const img = await image.drawIllustration({ ebookId, index });
    imageRefs[index - 1] = img;
    state.providers.image = img.provider;
    Object.assign(state.chapters[index - 1], { status: 'done', imageProvider: img.provider });
  };
  // The branch follows the book's input, so a history replays down the path it took;
  // the patch marks sequential books' histories for whoever changes this later.
  if (input.brief.chapterMode === 'sequential' && patched('sequential-chapters-v1')) {
    // One chapter at a time, each written after the one before it is stored (the
    // activity gives it that chapter's ending); illustrations are drawn alongside.
    const drawing: Array<Promise<void>> = [];
    for (const c of outline.chapters) {
      await write(c.index);
      const drawn = illustrate(c.index);
      drawn.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      drawing.push(drawn);
    }
    await Promise.all(drawing);
  } else {
    await runBounded(outline.chapters, concurrency, async (c) => {
      await write(c.index);
      await illustrate(c.index);
    });
  }
  return { chapterRefs, imageRefs };
}

/** What the files are rendered from: storage references only, never the text or images. */
export function bookManifest(
  input: EbookWorkflowInput,
  outline: OutlineRef,
  cover: ImageRef,
  { chapterRefs, imageRefs }: WrittenChapters,
): BookManifest {
  return {
    ebookId: input.ebookId,
    title: outline.title,
    coverKey: cover.key,
    coverAlt: cover.alt,
    watermark: input.watermark,
    chapters: outline.chapters.map((c, i) => ({
      index: c.index,
      title: c.title,
      textKey: chapterRefs[i].textKey,
      image: imageRefs[i] && { key: imageRefs[i]!.key, alt: imageRefs[i]!.alt },
    })),
    credits: [outline.provider, cover.provider, ...imageRefs.map((r) => r?.provider ?? '')],
  };
}
