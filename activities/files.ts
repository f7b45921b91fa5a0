/**
 * The book's files: its manifest read back from the row, and the PDF, the print PDF
 * (plans with `printReady`) and the EPUB rendered from the stored parts into drafts
 * that the publish step copies to a new version.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorTypes, type BookManifest, type FileRef } from '../workflows/shared';
import type { BookReads } from './book-reads';
import type { ActivityDeps } from './deps';
import type { ProviderCalls } from './provider-calls';
import { renderEpub as renderEpubFile } from './render/epub';
import { renderPdf as renderPdfFile } from './render/pdf';
import { renderPrintCover } from './render/print-cover';
import type { RenderBook, RenderImage } from './render/types';
import { keys } from './storage/types';
import { creditLine } from '../core/credits';
import { getEra } from '../core/eras';
import { BLEED_IN, TRIM } from '../core/print';
import { textLanguage } from '../core/language';

/** Trim and bleed of the print interior (core/print.ts): US trade 6×9 in, 1/8 in bleed (on which sides: PRINT_INTERIOR_BLEED). */
const PRINT_FORMAT = { trimWidthIn: TRIM.widthIn, trimHeightIn: TRIM.heightIn, bleedIn: BLEED_IN };
export const PRINT_PDF_NAME = 'book-print.pdf';
/** The wraparound cover, stored beside the print PDF under the same prefix (draft or version). */
export const PRINT_COVER_NAME = 'book-print-cover.pdf';

/** The print cover's key beside a print PDF's key: the cover always travels with its interior. */
export function printCoverKeyFor(printKey: string): string {
  return printKey.slice(0, printKey.lastIndexOf('/') + 1) + PRINT_COVER_NAME;
}

/**
 * Who the book is by: the pen name the owner gave it (kept as `metadata.author`), else the
 * owner's profile name, else the name part of their email; a book is never by the engine.
 */
export function authorOf(metadata: Record<string, unknown> | null | undefined, owner?: { name?: string | null; email?: string | null }): string {
  const penName = typeof metadata?.author === 'string' ? metadata.author.trim() : '';
  if (penName) return penName;
  if (owner?.name?.trim()) return owner.name.trim();
  const local = owner?.email?.split('@')[0]?.trim();
  return local || 'Anonymous';
}

export function createFileActivities(deps: ActivityDeps, calls: ProviderCalls, reads: BookReads) {
  const { repos, storage, events } = deps;
  const { heartbeat } = calls;

  /** Loads a book's parts from storage into what the renderers take. */
  const assemble = async (manifest: BookManifest): Promise<RenderBook> => {
    const row = await reads.loadBook(manifest.ebookId);
    const outline = await reads.loadOutline(manifest.ebookId);
    const brief = reads.briefOf(row);
    const image = async (key: string, alt: string): Promise<RenderImage> => ({
      data: await storage.get(key),
      mime: key.endsWith('.png') ? 'image/png' : 'image/jpeg',
      alt,
    });
    const [owner, calls] = await Promise.all([repos.profiles.getById(row.userId), repos.ledger.entries(manifest.ebookId)]);
    const chapters = [];
    for (const c of manifest.chapters) {
      const stored = await reads.loadChapter(c.textKey);
      chapters.push({
        index: c.index,
        title: c.title,
        paragraphs: stored.paragraphs,
        image: c.image ? await image(c.image.key, c.image.alt) : undefined,
      });
      heartbeat();
    }
    return {
      id: manifest.ebookId,
      title: manifest.title,
      subtitle: outline.logline,
      author: authorOf(row.metadata, owner),
      // The language the text is really in (lang, direction, hyphenation, labels), which is the
      // one asked for unless the writer could not write it (core/language.ts).
      language: textLanguage(brief.language, chapters.flatMap((c) => [c.title, ...c.paragraphs]).join('\n')),
      description: outline.logline,
      // What a reader would search for: the era's name, not its id.
      keywords: [getEra(brief.era)?.name, brief.style, brief.mood].filter((k): k is string => Boolean(k)),
      cover: await image(manifest.coverKey, manifest.coverAlt),
      chapters,
      watermark: manifest.watermark,
      credits: [
        creditLine(calls, {
          text: row.chapters.map((c) => c.textProvider ?? '').filter(Boolean),
          pictures: row.chapters.map((c) => c.imageProvider ?? '').filter(Boolean),
        }),
      ].filter(Boolean),
      modified: new Date().toISOString(),
    };
  };

  const stored = (s: { key: string; bytes: number; sha256: string }): FileRef => ({ key: s.key, bytes: s.bytes, sha256: s.sha256 });

  return {
    /**
     * The manifest of a published book as it stands in the database (each
     * chapter's latest text and picture), for re-rendering after a rewrite.
     */
    async loadManifest({ ebookId, watermark }: { ebookId: string; watermark?: string }): Promise<BookManifest> {
      const book = await reads.loadBook(ebookId);
      const missing = book.chapters.find((c) => !c.textKey);
      if (!book.coverImageKey || missing) {
        throw ApplicationFailure.nonRetryable(
          `ebook ${ebookId} is not complete (${missing ? `chapter ${missing.index} has no text` : 'no cover'})`,
          ErrorTypes.BadInput,
        );
      }
      return {
        ebookId,
        title: book.title,
        coverKey: book.coverImageKey,
        coverAlt: `Cover of “${book.title}”`,
        watermark,
        chapters: book.chapters.map((c) => ({
          index: c.index,
          title: c.title,
          textKey: c.textKey!,
          image: c.imageKey ? { key: c.imageKey, alt: c.imageAlt ?? `Illustration for chapter ${c.index}` } : undefined,
        })),
        credits: [
          ...new Set(book.chapters.flatMap((c) => [c.textProvider ?? '', c.imageProvider ?? ''])),
        ].filter(Boolean),
      };
    },

    async renderPdf(manifest: BookManifest): Promise<FileRef> {
      await repos.ebooks.updateStatus(manifest.ebookId, { stage: 'pdf' });
      const book = await assemble(manifest);
      const pdf = await renderPdfFile(book, { onProgress: (done, total) => heartbeat({ done, total }) });
      const draft = await storage.put(keys.draft(manifest.ebookId, 'book.pdf'), pdf);
      await events.publish(manifest.ebookId, 'stage', { stage: 'pdf', bytes: draft.bytes });
      return stored(draft);
    },

    /**
     * The print interior of the plans that include it: 6×9 in trim with 1/8 in bleed
     * (MediaBox, TrimBox, BleedBox), no cover, chapters on right-hand pages, a gutter by page
     * count, pictures at 300 ppi or more, PDF/X-4; never a watermark. Beside it
     * (PRINT_COVER_NAME) its wraparound cover, whose spine fits its page count.
     */
    async renderPrintPdf(manifest: BookManifest): Promise<FileRef> {
      const book = await assemble({ ...manifest, watermark: undefined });
      let pageCount = 0;
      const pdf = await renderPdfFile(book, {
        print: { ...PRINT_FORMAT, bleedEdges: deps.print?.interiorBleed ?? 'all' },
        onProgress: (done, total) => heartbeat({ done, total }),
        onPageCount: (pages) => (pageCount = pages),
      });
      const draft = await storage.put(keys.draft(manifest.ebookId, PRINT_PDF_NAME), pdf);
      // The wraparound cover, from the interior's real page count, as the draft's sibling:
      // the workflow passes the interior's key only, and publishing finds the cover beside it.
      heartbeat();
      const { palette } = await reads.loadOutline(manifest.ebookId);
      const cover = await renderPrintCover(book, { pageCount, palette, paperThicknessIn: deps.print?.paperThicknessIn });
      await storage.put(printCoverKeyFor(draft.key), cover);
      await events.publish(manifest.ebookId, 'stage', { stage: 'pdf', print: true, bytes: draft.bytes });
      return stored(draft);
    },

    async renderEpub(manifest: BookManifest): Promise<FileRef> {
      await repos.ebooks.updateStatus(manifest.ebookId, { stage: 'epub' });
      const book = await assemble(manifest);
      heartbeat();
      const epub = await renderEpubFile(book);
      const draft = await storage.put(keys.draft(manifest.ebookId, 'book.epub'), epub);
      await events.publish(manifest.ebookId, 'stage', { stage: 'epub', bytes: draft.bytes });
      return stored(draft);
    },
  };
}
