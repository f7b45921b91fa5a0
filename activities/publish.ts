/**
 * The end of a book's run: its drafts copied to a new file version, the row pointed
 * at them (published), or, for a book that did not come out, its allowance given back
 * and its status set, with the event its readers wait for.
 */
import { publishedActivity } from '../db/sharing';
import type { EventBus } from '../db/events';
import type { Repositories } from '../db/repositories';
import type { EbookError, StoredFiles } from '../workflows/shared';
import { currentRun, type BookReads } from './book-reads';
import type { ActivityDeps } from './deps';
import { PRINT_COVER_NAME, PRINT_PDF_NAME, printCoverKeyFor } from './files';
import { keys } from './storage/types';
import { Context } from '@temporalio/activity';
import { REVISION_WORKFLOW_TYPE } from '../workflows/revision-shared';

/**
 * Whether this activity runs for a whole-book revision: its run ends with the
 * revision's own `completed` report (activities/revisions.ts), after its last
 * `revision` event, so a stream's terminal event comes last.
 */
function inRevision(book: { revision: { runId: string } | null }): boolean {
  try {
    const info = Context.current().info;
    // A chapter rewrite that reports (workflows/regenerate-chapter.ts) is the book's revision run.
    return info.workflowType === REVISION_WORKFLOW_TYPE || book.revision?.runId === info.workflowExecution?.runId;
  } catch {
    return false; // called outside an activity
  }
}

/**
 * Records the end of a book that did not come out: its allowance back (once, however often
 * this runs), before its status says so, so whoever sees the status sees the allowance too;
 * then the event for its readers. True when this call changed the status.
 */
export async function finishBook(
  deps: { repos: Repositories; events: EventBus },
  input: { ebookId: string; status: 'failed' | 'cancelled'; error: EbookError; runId?: string },
): Promise<boolean> {
  await deps.repos.usage.release(input.ebookId);
  const changed = await deps.repos.ebooks.updateStatus(input.ebookId, {
    status: input.status,
    stage: input.status,
    error: { ...input.error },
    closedRunId: input.runId,
  });
  await deps.events.publish(input.ebookId, input.status, { error: input.error });
  return changed;
}

export function createPublishActivities(deps: ActivityDeps, reads: BookReads) {
  const { repos, storage, events } = deps;

  return {
    /**
     * Copies the drafts to a new version's keys. The previous version's files
     * stay where they are until the book row points at the new ones.
     */
    async storeFiles(input: {
      ebookId: string;
      pdfKey: string;
      epubKey: string;
      coverKey: string;
      /** The print-ready PDF, for the plans that include one. */
      printKey?: string;
    }): Promise<StoredFiles> {
      const book = await reads.loadBook(input.ebookId);
      await repos.ebooks.updateStatus(input.ebookId, { stage: 'storing' });
      // A retry computes the same version (the row changes only at publish), so it overwrites its own copies.
      const version = (book.fileVersion ?? 0) + 1;
      const coverExt = input.coverKey.slice(input.coverKey.lastIndexOf('.') + 1);
      const [pdf, epub, cover] = await Promise.all([
        storage.copy(input.pdfKey, keys.published(input.ebookId, version, 'book.pdf')),
        storage.copy(input.epubKey, keys.published(input.ebookId, version, 'book.epub')),
        storage.copy(input.coverKey, keys.published(input.ebookId, version, `cover.${coverExt}`)),
      ]);
      const print = input.printKey ? await storage.copy(input.printKey, keys.published(input.ebookId, version, PRINT_PDF_NAME)) : undefined;
      // The wraparound cover lies beside the print PDF (a draft, or the version a one-file
      // revision carries over); a print PDF made before covers existed has none.
      const coverKey = input.printKey ? printCoverKeyFor(input.printKey) : undefined;
      const printCover =
        coverKey && (await storage.head(coverKey)) ? await storage.copy(coverKey, keys.published(input.ebookId, version, PRINT_COVER_NAME)) : undefined;
      const ref = (o: { key: string; bytes: number; sha256: string }) => ({ key: o.key, bytes: o.bytes, sha256: o.sha256 });
      return {
        version,
        pdf: ref(pdf),
        epub: ref(epub),
        cover: ref(cover),
        ...(print ? { print: ref(print) } : {}),
        ...(printCover ? { printCover: ref(printCover) } : {}),
      };
    },

    async publishEbook(input: {
      ebookId: string;
      files: StoredFiles;
      providers: { text?: string; image?: string };
    }): Promise<void> {
      const { ebookId, files } = input;
      const book = await reads.loadBook(ebookId);
      const base = `/v1/ebooks/${ebookId}/files`;
      // Domain events are keyed by book and version: a retried step records them once.
      // Recorded before the row says completed, so whoever sees the book finished also sees them.
      await repos.activities.record({
        userId: book.userId,
        type: 'ebook_generated',
        data: { ebookId, version: files.version },
        dedupeKey: `ebook_generated:${ebookId}:${files.version}`,
      });
      // Made public (POST /v1/ebooks with visibility public, or published before a
      // revision): this version is published too. A private book's is not.
      if (book.visibility === 'public') {
        await repos.activities.record(publishedActivity({ ...book, fileVersion: files.version }));
      }
      await repos.ebooks.publish(ebookId, {
        pdfKey: files.pdf.key,
        epubKey: files.epub.key,
        coverImageKey: files.cover.key,
        pdfUrl: `${base}/pdf?v=${files.version}`,
        epubUrl: `${base}/epub?v=${files.version}`,
        coverImageUrl: `${base}/cover?v=${files.version}`,
        fileVersion: files.version,
        images: book.chapters
          .filter((c) => c.imageKey)
          .map((c) => ({ chapter: c.index, key: c.imageKey, alt: c.imageAlt, provider: c.imageProvider })),
        providers: input.providers,
        // The print PDF and its cover (premium plans) are found through here: GET …/files/print
        // and …/files/print-cover, printPdfUrl and printCoverUrl.
        metadata: {
          ...(book.metadata ?? {}),
          files: {
            pdf: files.pdf,
            epub: files.epub,
            ...(files.print ? { print: files.print } : {}),
            ...(files.printCover ? { printCover: files.printCover } : {}),
          },
        },
      });
      if (!inRevision(book)) await events.publish(ebookId, 'completed', { version: files.version });
    },

    async finishEbook(input: { ebookId: string; status: 'failed' | 'cancelled'; error: EbookError }): Promise<void> {
      await finishBook(deps, { ...input, runId: currentRun()?.runId });
      if (input.status === 'cancelled') {
        // However it was cancelled (the API, the Web UI, `temporal workflow cancel`), the owner's
        // record says so once: the API's cancel records the same key.
        const book = await reads.loadBook(input.ebookId);
        await repos.activities.record({
          userId: book.userId,
          type: 'ebook_cancelled',
          data: { ebookId: book.id },
          dedupeKey: `ebook_cancelled:${book.id}`,
        });
      }
    },
  };
}
