/**
 * One workflow per ebook: outline → chapters (bounded fan-out, each chapter
 * illustrated as soon as it is written) with the cover alongside → PDF → EPUB →
 * store files → publish (that ending is shared with rewrites and revisions:
 * ending.ts). Pure orchestration: every side effect is an activity, and only
 * references (storage keys) cross into history.
 */
import {
  CancellationScope,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  log,
} from '@temporalio/workflow';
import { renderStoreAndPublish } from './ending';
import { describeFailure, runBounded } from './helpers';
import { image, local, store, text } from './proxies';
import {
  computeProgress,
  STAGE_ATTRIBUTE,
  stateQuery,
  type ChapterRef,
  type EbookState,
  type EbookWorkflowInput,
  type ImageRef,
  type Stage,
  type StoredFiles,
} from './shared';

/** Chapters (with their illustrations) in flight at once, per book. */
const DEFAULT_CONCURRENCY = 4;

export interface EbookWorkflowResult {
  ebookId: string;
  title: string;
  files: StoredFiles;
}

export async function ebookWorkflow(input: EbookWorkflowInput): Promise<EbookWorkflowResult> {
  const { ebookId } = input;
  const state: EbookState = {
    ebookId,
    status: 'running',
    stage: 'queued',
    progress: 0,
    chapters: [],
    providers: {},
  };
  setHandler(stateQuery, () => ({ ...state, progress: progressOf(state) }));

  const setStage = (stage: Stage) => {
    state.stage = stage;
    upsertSearchAttributes([{ key: STAGE_ATTRIBUTE, value: stage }]);
  };

  try {
    setStage('outline');
    if (patched('local-start-v1')) {
      // Both quick, both needed before the outline: at once, in this worker. Both settle
      // before a failure is handled, so a late "running" can't overwrite the "failed".
      const settled = await Promise.allSettled([
        local.moderatePrompt({ ebookId, brief: input.brief }),
        local.startEbook({ ebookId }),
      ]);
      for (const r of settled) if (r.status === 'rejected') throw r.reason;
    } else {
      // Moderation came after books were already running: the patch keeps their histories replayable.
      if (patched('moderation-v1')) {
        await text.moderatePrompt({ ebookId, brief: input.brief });
      }
      await store.startEbook({ ebookId });
    }
    const outline = await text.writeOutline({ ebookId, brief: input.brief });
    state.title = outline.title;
    state.providers.text = outline.provider;
    state.chapters = outline.chapters.map((c) => ({ index: c.index, title: c.title, status: 'pending' }));

    setStage('chapters');
    const coverPromise = image.drawCover({ ebookId });
    // Awaited after the chapters; if they fail first, this keeps its rejection from going unhandled.
    coverPromise.catch(() => undefined);
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
    setStage('cover');
    const cover = await coverPromise;

    const manifest = {
      ebookId,
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

    const files = await renderStoreAndPublish({
      ebookId,
      manifest,
      // The print-ready PDF came after books were already running: the patch keeps their histories replayable.
      printReady: () => patched('print-pdf-v1') && !!input.printReady,
      providers: state.providers,
      onStage: setStage,
      onStored: (stored) => {
        state.fileVersion = stored.version;
      },
    });
    state.status = 'completed';
    setStage('completed');
    return { ebookId, title: outline.title, files };
  } catch (err) {
    if (isCancellation(err)) {
      state.status = 'cancelled';
      setStage('cancelled');
      // The scope is cancelled; bookkeeping must still reach the database.
      await CancellationScope.nonCancellable(() =>
        store.finishEbook({ ebookId, status: 'cancelled', error: { type: 'Cancelled', message: 'Cancelled by request' } }),
      );
      throw err;
    }
    const error = describeFailure(err);
    log.warn('ebook failed', { ebookId, error });
    state.status = 'failed';
    state.error = error;
    setStage('failed');
    await store.finishEbook({ ebookId, status: 'failed', error });
    throw err;
  }
}

function progressOf(state: EbookState): number {
  if (state.status === 'completed') return 1;
  return computeProgress(state.stage, state.chapters);
}
