/**
 * One workflow per ebook: outline (→ its owner's review, when asked for) →
 * chapters (bounded fan-out, each chapter illustrated as soon as it is written)
 * with the cover alongside → PDF → EPUB → store files → publish. The longer
 * stages are written out in ebook-stages.ts and outline-review.ts,
 * the ending (shared with rewrites and revisions) in ending.ts. Pure
 * orchestration: every side effect is an activity, and only references (storage
 * keys) cross into history.
 */
import {
  ApplicationFailure,
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
import { awaitOutlineReview } from './outline-review';
import { image, store, text } from './proxies';
import {
  computeProgress,
  ReviewErrorTypes,
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
    let outline = await text.writeOutline({ ebookId, brief: input.brief });
    state.title = outline.title;
    state.providers.text = outline.provider;
    state.chapters = outline.chapters.map((c) => ({ index: c.index, title: c.title, status: 'pending' }));
    // Only books started with a review take this branch: other books' commands are as they were.
    if (input.review === 'outline') outline = await awaitOutlineReview(input, outline, state, setStage);

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
    if (isCancellation(err) || isReviewTimeout(err)) {
      state.status = 'cancelled';
      setStage('cancelled');
      // The scope is cancelled; bookkeeping must still reach the database.
      const error = isReviewTimeout(err)
        ? { type: ReviewErrorTypes.ReviewTimedOut, message: err.message }
        : { type: 'Cancelled', message: 'Cancelled by request' };
      await CancellationScope.nonCancellable(() => store.finishEbook({ ebookId, status: 'cancelled', error }));
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

/** An outline review nobody answered: the book is cancelled (and its allowance released), not failed. */
function isReviewTimeout(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.type === ReviewErrorTypes.ReviewTimedOut;
}

function progressOf(state: EbookState): number {
  if (state.status === 'completed') return 1;
  return computeProgress(state.stage, state.chapters);
}
