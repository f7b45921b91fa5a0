/**
 * One workflow per ebook: outline → chapters (bounded fan-out, each chapter
 * illustrated as soon as it is written) with the cover alongside → PDF → EPUB →
 * store files → publish. The longer stages are written out in ebook-stages.ts,
 * the ending (shared with rewrites and revisions) in ending.ts. Pure
 * orchestration: every side effect is an activity, and only references (storage
 * keys) cross into history.
 */
import {
  CancellationScope,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  log,
} from '@temporalio/workflow';
import { bookManifest, moderateAndStart, writeAndIllustrate } from './ebook-stages';
import { renderStoreAndPublish } from './ending';
import { describeFailure } from './helpers';
import { image, store, text } from './proxies';
import {
  computeProgress,
  STAGE_ATTRIBUTE,
  stateQuery,
  type EbookState,
  type EbookWorkflowInput,
  type Stage,
  type StoredFiles,
} from './shared';

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
    await moderateAndStart(input);
    const outline = await text.writeOutline({ ebookId, brief: input.brief });
    state.title = outline.title;
    state.providers.text = outline.provider;
    state.chapters = outline.chapters.map((c) => ({ index: c.index, title: c.title, status: 'pending' }));

    setStage('chapters');
    const coverPromise = image.drawCover({ ebookId });
    // Awaited after the chapters; if they fail first, this keeps its rejection from going unhandled.
    coverPromise.catch(() => undefined);
    const chapters = await writeAndIllustrate(input, outline, state);
    setStage('cover');
    const cover = await coverPromise;

    const manifest = bookManifest(input, outline, cover, chapters);
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
