/**
 * The activities of whole-book revisions (workflows/revise-ebook.ts) that the
 * generation pipeline does not have: reporting the revision's progress on the
 * book row and to event streams, and reading the current version's files.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { printFile, type Repositories } from '../db/repositories';
import type { EventBus } from '../db/events';
import { ErrorTypes } from '../workflows/shared';
import type { RevisionStage, RevisionState, RevisionStep } from '../workflows/revision-shared';

const FINISHED: readonly RevisionStage[] = ['completed', 'failed', 'cancelled'];

export function createRevisionActivities(deps: { repos: Repositories; events: EventBus }) {
  const { repos, events } = deps;
  return {
    async recordRevision(input: {
      ebookId: string;
      workflowId: string;
      runId: string;
      step: RevisionStep;
      /** A single chapter's rewrite (workflows/regenerate-chapter.ts), not a whole step. */
      chapter?: number;
      stage: RevisionStage;
      fromVersion: number;
      toVersion?: number;
      error?: { type: string; message: string };
    }): Promise<void> {
      const finished = FINISHED.includes(input.stage);
      const state: RevisionState = {
        workflowId: input.workflowId,
        runId: input.runId,
        step: input.step,
        ...(input.chapter !== undefined ? { chapter: input.chapter } : {}),
        status: finished ? (input.stage as RevisionState['status']) : 'running',
        stage: input.stage,
        fromVersion: input.fromVersion,
        ...(input.toVersion !== undefined ? { toVersion: input.toVersion } : {}),
        ...(input.error ? { error: input.error } : {}),
        ...(finished ? { finishedAt: new Date().toISOString() } : {}),
      };
      // Chapters being redone start over (their progress counts toward the revision's);
      // when it ends, however it ends, every chapter is done again.
      // A single chapter's rewrite leaves the others alone (its own chapter reports itself).
      const redoesAll = input.chapter === undefined && (input.stage === 'chapters' || input.stage === 'illustrations');
      const chapterStatus = finished ? 'done' : redoesAll ? 'pending' : undefined;
      await repos.sharing.reportRevision(input.ebookId, state, chapterStatus);
      await events.publish(input.ebookId, 'revision', {
        step: state.step,
        ...(state.chapter !== undefined ? { chapter: state.chapter } : {}),
        stage: state.stage,
        status: state.status,
        fromVersion: state.fromVersion,
        toVersion: state.toVersion,
        error: state.error,
      });
      // The run's terminal event, after its last `revision` event (publishEbook leaves it to this report).
      if (input.stage === 'completed' && input.toVersion !== undefined) {
        await events.publish(input.ebookId, 'completed', { version: input.toVersion });
      }
    },

    /** The storage keys of the published version's files. */
    async currentFiles({ ebookId }: { ebookId: string }): Promise<{ pdfKey: string; epubKey: string; coverKey: string; printKey?: string }> {
      const book = await repos.ebooks.get(ebookId);
      if (!book?.pdfKey || !book.epubKey || !book.coverImageKey) {
        throw ApplicationFailure.nonRetryable(`ebook ${ebookId} has no published files`, ErrorTypes.BadInput);
      }
      const printKey = printFile(book)?.key;
      return { pdfKey: book.pdfKey, epubKey: book.epubKey, coverKey: book.coverImageKey, ...(printKey ? { printKey } : {}) };
    },
  };
}
