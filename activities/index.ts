/**
 * The ebook activities, built by a factory over their dependencies so the
 * worker wires real clients once and tests wire their own.
 *
 * Each activity stores what it produces and returns a reference; anything long
 * heartbeats; failures no retry can fix are non-retryable with a named type.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Knex } from 'knex';
import { createRevisionActivities } from './revisions';
import { publishedActivity } from '../db/sharing';
import type { Moderator } from './moderation';
import { createProviderCalls } from './provider-calls';
import { createStoryBookSteps } from './story-books';
import { createStoryActivities } from './stories';
import { createAiActivities } from './ai';
import { ContentRefusedError, ModeratedStream } from './moderated-stream';
import { partialSpendOf } from './providers/errors';
import { currentAttempt } from './providers/failover';
import type { Repositories } from '../db/repositories';
import type { EventBus } from '../db/events';
import type { ImageProvider, Outline, TextProvider } from './providers/types';
import type { RenderBook, RenderImage } from './render/types';
import { renderPdf as renderPdfFile } from './render/pdf';
import { renderEpub as renderEpubFile } from './render/epub';
import { warmUpRenderers } from './render/warmup';
import { keys, type Storage } from './storage/types';
import {
  ErrorTypes,
  type BookManifest,
  type ChapterRef,
  type EbookError,
  type FileRef,
  type ImageRef,
  type OutlineRef,
  type StoredFiles,
} from '../workflows/shared';
import { briefText, type BookBrief } from '../core/brief';

export interface ActivityDeps {
  repos: Repositories;
  storage: Storage;
  events: EventBus;
  /** Stories' progress events; without it, a story's run is only seen in its row. */
  storyEvents?: EventBus;
  text: TextProvider;
  image: ImageProvider;
  /** With it, every provider call goes into the cost ledger and the persisted provider order applies. */
  knex?: Knex;
  /** Content moderation; default: OpenAI's with OPENAI_API_KEY in the environment, else the local rules. */
  moderate?: Moderator;
  /** How long a worker keeps the persisted provider order before reading it again (default 10 s). */
  providerOrderTtlMs?: number;
  /**
   * How long after its first heartbeat call an activity stays quiet (default 1 s). Temporal
   * sends an activity's first heartbeat at once and throttles the rest to most of the
   * heartbeat timeout, so a beat at the start only cost two processes work; skipping them made
   * the throughput benchmark's books ~10% cheaper. Long steps still beat after this.
   */
  heartbeatQuietMs?: number;
}

/**
 * Records the end of a book that did not come out: its allowance back (once, however often
 * this runs), before its status says so, so whoever sees the status sees the allowance too;
 * then the event for its readers. True when this call changed the status.
 */
export async function finishBook(
  deps: { repos: Repositories; events: EventBus },
  input: { ebookId: string; status: 'failed' | 'cancelled'; error: EbookError },
): Promise<boolean> {
  await deps.repos.usage.release(input.ebookId);
  const changed = await deps.repos.ebooks.updateStatus(input.ebookId, {
    status: input.status,
    stage: input.status,
    error: { ...input.error },
  });
  await deps.events.publish(input.ebookId, input.status, { error: input.error });
  return changed;
}

/** A chapter as stored: the text itself never enters workflow history. */
export interface StoredChapter {
  index: number;
  title: string;
  paragraphs: string[];
}

/** Trim and bleed of the print-ready PDF: US trade 6×9 in, 1/8 in bleed on every side. */
const PRINT_FORMAT = { trimWidthIn: 6, trimHeightIn: 9, bleedIn: 0.125 };
const PRINT_PDF_NAME = 'book-print.pdf';

const ILLUSTRATION_SIZE = 1024;
const COVER_WIDTH = 1200;
const COVER_HEIGHT = 1800;

export function createActivities(deps: ActivityDeps) {
  const { repos, storage, events } = deps;

  const calls = createProviderCalls(deps);
  const { heartbeat, signal, recordCall, tracked, refuseIfFlagged, writeModerated } = calls;
  const fromStory = createStoryBookSteps(deps);

  /** A story-book's chapter: the story's text stored at outline time, moderated like any chapter. */
  const chapterFromStory = async (ebookId: string, index: number): Promise<ChapterRef> => {
    const { key, paragraphs, credit: producer } = await fromStory.chapter(ebookId, index);
    await refuseIfFlagged(paragraphs.join('\n\n'), `chapter ${index}`);
    const words = paragraphs.join(' ').split(/\s+/).filter(Boolean).length;
    await events.publish(ebookId, 'chapter.text', { index, delta: paragraphs.join('\n\n') });
    await repos.ebooks.setChapter(ebookId, index, { status: 'written', words, textKey: key, textProvider: producer });
    await events.publish(ebookId, 'chapter.written', { index, words, provider: producer });
    return { index, textKey: key, words, provider: producer };
  };

  const loadBook = async (ebookId: string) => {
    const book = await repos.ebooks.get(ebookId);
    if (!book) {
      throw ApplicationFailure.nonRetryable(`ebook ${ebookId} does not exist`, ErrorTypes.NotFound);
    }
    return book;
  };

  const loadOutline = async (ebookId: string): Promise<Outline> =>
    JSON.parse((await storage.get(keys.outline(ebookId))).toString('utf8')) as Outline;

  const loadChapter = async (key: string): Promise<StoredChapter> =>
    JSON.parse((await storage.get(key)).toString('utf8')) as StoredChapter;

  /** How many characters of the previous chapter's written end a sequential chapter is given. */
  const PREVIOUS_ENDING_CHARS = 1500;

  /**
   * The end of chapter `index - 1` as it was actually written (its latest
   * version), cut at a paragraph start; undefined when it has no stored text yet.
   */
  const previousEnding = async (book: { chapters: Array<{ index: number; textKey?: string | null }> }, index: number) => {
    const key = book.chapters.find((c) => c.index === index - 1)?.textKey;
    if (!key) return undefined;
    const paragraphs = (await loadChapter(key)).paragraphs;
    const kept: string[] = [];
    let chars = 0;
    for (let i = paragraphs.length - 1; i >= 0 && (kept.length === 0 || chars + paragraphs[i].length <= PREVIOUS_ENDING_CHARS); i--) {
      kept.unshift(paragraphs[i]);
      chars += paragraphs[i].length;
    }
    const text = kept.join('\n\n');
    // One very long last paragraph: keep its end, from a sentence start.
    return text.length <= PREVIOUS_ENDING_CHARS ? text : text.slice(text.indexOf(' ', text.length - PREVIOUS_ENDING_CHARS) + 1);
  };

  /** The character/style bible every image prompt carries, so pictures stay consistent. */
  const bible = (outline: Outline) =>
    [
      `Style: ${outline.style}.`,
      `Palette: ${outline.palette.join(' and ')}.`,
      ...outline.characters.map((c) => `${c.name}: ${c.look}.`),
      `Setting: ${outline.setting}.`,
    ].join(' ');

  const seedOf = (ebookId: string) => parseInt(ebookId.replace(/-/g, '').slice(0, 8), 16) >>> 0;

  return {
    ...createRevisionActivities(deps),
    ...createStoryActivities(deps, calls),
    ...createAiActivities(deps, calls),
    /** The brief's free text, before anything is generated or spent. */
    async moderatePrompt({ ebookId, brief }: { ebookId: string; brief: BookBrief }): Promise<void> {
      heartbeat();
      await refuseIfFlagged(briefText(brief), `the prompt of ebook ${ebookId}`);
    },

    async startEbook({ ebookId }: { ebookId: string }): Promise<void> {
      const book = await loadBook(ebookId);
      if (book.status === 'cancelled') {
        throw ApplicationFailure.nonRetryable(`ebook ${ebookId} was cancelled`, ErrorTypes.BadInput);
      }
      await repos.ebooks.updateStatus(ebookId, { status: 'running', stage: 'outline' });
      await events.publish(ebookId, 'stage', { stage: 'outline' });
    },

    async writeOutline({ ebookId, brief }: { ebookId: string; brief: BookBrief }): Promise<OutlineRef> {
      // Once per worker process, in the background: fonts parsed and layout code compiled
      // while the book is being written, so its render is as fast as a warm worker's.
      void warmUpRenderers();
      if (!brief.prompt?.trim()) {
        throw ApplicationFailure.nonRetryable('the prompt is empty', ErrorTypes.BadInput);
      }
      if (!Number.isInteger(brief.chapterCount) || brief.chapterCount < 1 || brief.chapterCount > 24) {
        throw ApplicationFailure.nonRetryable('chapterCount must be 1-24', ErrorTypes.BadInput);
      }
      const provider = deps.text;
      let outline: Outline;
      let producer: string;
      let spent: Promise<unknown> = Promise.resolve();
      if (brief.storyId) {
        // A book from a story: its own text, split into chapters; no text provider call.
        ({ outline, provider: producer } = await fromStory.outline(ebookId, { ...brief, storyId: brief.storyId }));
      } else {
        const written = await tracked(ebookId, 'outline', provider.name, () => provider.writeOutline(brief, signal()));
        outline = written.outline;
        // Behind a failover the result names the provider that actually wrote it.
        producer = written.provider ?? provider.name;
        if (outline.chapters.length !== brief.chapterCount) {
          // A provider that ignores the requested length would produce a wrong book; retrying may help.
          throw new Error(
            `${producer} wrote ${outline.chapters.length} chapters, ${brief.chapterCount} were asked for`,
          );
        }
        spent = recordCall(ebookId, 'outline', producer, written.model, written.usage);
      }
      // The first chapters start as soon as this step ends: its writes go out together.
      const [stored] = await Promise.all([
        storage.put(keys.outline(ebookId), Buffer.from(JSON.stringify(outline))),
        spent,
        repos.ebooks.saveOutline(ebookId, {
          title: outline.title,
          description: outline.logline,
          chapters: outline.chapters.map((c) => ({
            index: c.index,
            title: c.title,
            summary: c.summary,
            status: 'pending',
          })),
        }),
        repos.ebooks.updateStatus(ebookId, { stage: 'chapters' }),
      ]);
      await events.publish(ebookId, 'outline', {
        title: outline.title,
        logline: outline.logline,
        chapters: outline.chapters.map((c) => ({ index: c.index, title: c.title })),
        provider: producer,
        offline: brief.storyId ? false : provider.offline,
      });
      return {
        outlineKey: stored.key,
        title: outline.title,
        chapters: outline.chapters.map((c) => ({ index: c.index, title: c.title })),
        provider: producer,
        seed: seedOf(ebookId),
      };
    },

    async writeChapter({
      ebookId,
      index,
      revision,
    }: {
      ebookId: string;
      index: number;
      /** Set when a reader asked for this chapter again. */
      revision?: { number: number; feedback?: string };
    }): Promise<ChapterRef> {
      void warmUpRenderers();
      // Both reads at once; a missing book is the error that counts (it is not retried).
      const [bookRead, outlineRead] = await Promise.allSettled([loadBook(ebookId), loadOutline(ebookId)]);
      if (bookRead.status === 'rejected') throw bookRead.reason;
      if (outlineRead.status === 'rejected') throw outlineRead.reason;
      const book = bookRead.value;
      const outline = outlineRead.value;
      const chapter = outline.chapters.find((c) => c.index === index);
      if (!chapter) {
        throw ApplicationFailure.nonRetryable(`chapter ${index} is not in the outline`, ErrorTypes.BadInput);
      }
      if (revision?.feedback) await refuseIfFlagged(revision.feedback, `the feedback on chapter ${index}`);
      // A retry writes the chapter afresh: clients drop the text an earlier attempt streamed
      // (a stream cut mid-way, a worker that died) before the new text arrives.
      const attempt = currentAttempt();
      if (attempt > 1) await events.publish(ebookId, 'chapter.restart', { index, attempt });
      const storyId = (book.generationSettings as BookBrief | null)?.storyId;
      if (storyId && !revision) return chapterFromStory(ebookId, index);
      // Marked "writing" while the provider request goes out, not before it; settled before the
      // chapter is stored, so "written" always lands last. Only a progress mark: if it fails
      // (the database is restarting), the chapter goes on rather than being paid for twice.
      const markedWriting = repos.ebooks.setChapter(ebookId, index, { status: 'writing' }).catch(() => false);
      const provider = deps.text;
      const brief = book.generationSettings as BookBrief;
      // Sequential books continue from what the previous chapter actually says, not only its plan.
      const ending = brief.chapterMode === 'sequential' ? await previousEnding(book, index) : undefined;
      // The text reaches clients only after moderation passed it, piece by piece; a refused
      // chapter never becomes part of the book.
      const result = await writeModerated({
        ebookId,
        step: 'chapter',
        provider: provider.name,
        what: `chapter ${index}`,
        heartbeatDetails: { index },
        publish: (piece) => events.publish(ebookId, 'chapter.text', { index, delta: piece }),
        record: (producer, model, usage) => recordCall(ebookId, 'chapter', producer, model, usage, index),
        call: (onText, providerSignal) =>
          provider.writeChapter(
            {
              brief,
              outline,
              chapter,
              previousSummaries: outline.chapters.filter((c) => c.index < index).map((c) => c.summary),
              previousEnding: ending,
              revision,
            },
            onText,
            providerSignal,
          ),
      });
      const producer = result.provider ?? provider.name;
      await markedWriting;
      const stored: StoredChapter = { index, title: chapter.title, paragraphs: result.paragraphs };
      const key = keys.chapter(ebookId, index, revision?.number);
      await storage.put(key, Buffer.from(JSON.stringify(stored)));
      const words = result.paragraphs.join(' ').split(/\s+/).filter(Boolean).length;
      await repos.ebooks.setChapter(ebookId, index, {
        status: 'written',
        words,
        textKey: key,
        textProvider: producer,
      });
      await events.publish(ebookId, 'chapter.written', { index, words, provider: producer });
      return { index, textKey: key, words, provider: producer };
    },

    async drawIllustration({
      ebookId,
      index,
      revision,
    }: {
      ebookId: string;
      index: number;
      revision?: number;
    }): Promise<ImageRef> {
      const outline = await loadOutline(ebookId);
      const chapter = outline.chapters.find((c) => c.index === index);
      if (!chapter) {
        throw ApplicationFailure.nonRetryable(`chapter ${index} is not in the outline`, ErrorTypes.BadInput);
      }
      const provider = deps.image;
      heartbeat({ index });
      const prompt = `Illustration for chapter ${index}, "${chapter.title}": ${chapter.summary} ${bible(outline)}`;
      await refuseIfFlagged(prompt, `the illustration prompt of chapter ${index}`);
      const result = await tracked(ebookId, 'illustration', provider.name, () => provider.generateImage(
        {
          kind: 'illustration',
          prompt,
          width: ILLUSTRATION_SIZE,
          height: ILLUSTRATION_SIZE,
          seed: seedOf(ebookId),
          palette: outline.palette,
          caption: `Chapter ${index}: ${chapter.title}`,
        },
        signal(),
      ));
      const producer = result.provider ?? provider.name;
      await recordCall(ebookId, 'illustration', producer, result.model, result.usage, index);
      const key = keys.illustration(ebookId, index, result.mime === 'image/png' ? 'png' : 'jpg', revision);
      await storage.put(key, result.data, { contentType: result.mime });
      const alt = `Illustration for chapter ${index}, “${chapter.title}”: ${chapter.summary}`;
      await repos.ebooks.setChapter(ebookId, index, {
        status: 'done',
        imageKey: key,
        imageAlt: alt,
        imageProvider: producer,
      });
      await events.publish(ebookId, 'chapter.illustrated', { index, provider: producer });
      return { key, alt, provider: producer };
    },

    async drawCover({ ebookId, revision }: { ebookId: string; revision?: number }): Promise<ImageRef> {
      const outline = await loadOutline(ebookId);
      const provider = deps.image;
      heartbeat();
      const prompt = `Book cover for "${outline.title}": ${outline.logline} ${bible(outline)}`;
      await refuseIfFlagged(prompt, 'the cover prompt');
      const result = await tracked(ebookId, 'cover', provider.name, () => provider.generateImage(
        {
          kind: 'cover',
          prompt,
          width: COVER_WIDTH,
          height: COVER_HEIGHT,
          seed: seedOf(ebookId),
          palette: outline.palette,
          title: outline.title,
          subtitle: outline.logline,
        },
        signal(),
      ));
      const producer = result.provider ?? provider.name;
      await recordCall(ebookId, 'cover', producer, result.model, result.usage);
      const key = keys.cover(ebookId, result.mime === 'image/png' ? 'png' : 'jpg', revision);
      await storage.put(key, result.data, { contentType: result.mime });
      await events.publish(ebookId, 'cover', { provider: producer });
      return { key, alt: `Cover of “${outline.title}”`, provider: producer };
    },

    /**
     * The manifest of a published book as it stands in the database (each
     * chapter's latest text and picture), for re-rendering after a rewrite.
     */
    async loadManifest({ ebookId, watermark }: { ebookId: string; watermark?: string }): Promise<BookManifest> {
      const book = await loadBook(ebookId);
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
      const stored = await storage.put(keys.draft(manifest.ebookId, 'book.pdf'), pdf);
      await events.publish(manifest.ebookId, 'stage', { stage: 'pdf', bytes: stored.bytes });
      return { key: stored.key, bytes: stored.bytes, sha256: stored.sha256 };
    },

    /**
     * The print-ready PDF of the plans that include it: 6×9 in trim with 1/8 in bleed
     * (MediaBox, TrimBox, BleedBox), images at print resolution, never a watermark.
     */
    async renderPrintPdf(manifest: BookManifest): Promise<FileRef> {
      const book = await assemble({ ...manifest, watermark: undefined });
      const pdf = await renderPdfFile(book, { print: PRINT_FORMAT, onProgress: (done, total) => heartbeat({ done, total }) });
      const stored = await storage.put(keys.draft(manifest.ebookId, PRINT_PDF_NAME), pdf);
      await events.publish(manifest.ebookId, 'stage', { stage: 'pdf', print: true, bytes: stored.bytes });
      return { key: stored.key, bytes: stored.bytes, sha256: stored.sha256 };
    },

    async renderEpub(manifest: BookManifest): Promise<FileRef> {
      await repos.ebooks.updateStatus(manifest.ebookId, { stage: 'epub' });
      const book = await assemble(manifest);
      heartbeat();
      const epub = await renderEpubFile(book);
      const stored = await storage.put(keys.draft(manifest.ebookId, 'book.epub'), epub);
      await events.publish(manifest.ebookId, 'stage', { stage: 'epub', bytes: stored.bytes });
      return { key: stored.key, bytes: stored.bytes, sha256: stored.sha256 };
    },

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
      const book = await loadBook(input.ebookId);
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
      const ref = (o: { key: string; bytes: number; sha256: string }) => ({ key: o.key, bytes: o.bytes, sha256: o.sha256 });
      return { version, pdf: ref(pdf), epub: ref(epub), cover: ref(cover), ...(print ? { print: ref(print) } : {}) };
    },

    async publishEbook(input: {
      ebookId: string;
      files: StoredFiles;
      providers: { text?: string; image?: string };
    }): Promise<void> {
      const { ebookId, files } = input;
      const book = await loadBook(ebookId);
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
        // The print PDF (premium plans) is found through here: GET …/files/print, printPdfUrl.
        metadata: { ...(book.metadata ?? {}), files: { pdf: files.pdf, epub: files.epub, ...(files.print ? { print: files.print } : {}) } },
      });
      await events.publish(ebookId, 'completed', { version: files.version });
    },

    async finishEbook(input: { ebookId: string; status: 'failed' | 'cancelled'; error: EbookError }): Promise<void> {
      await finishBook(deps, input);
    },
  };

  /** Loads a book's parts from storage into what the renderers take. */
  async function assemble(manifest: BookManifest): Promise<RenderBook> {
    const row = await loadBook(manifest.ebookId);
    const outline = await loadOutline(manifest.ebookId);
    const image = async (key: string, alt: string): Promise<RenderImage> => ({
      data: await storage.get(key),
      mime: key.endsWith('.png') ? 'image/png' : 'image/jpeg',
      alt,
    });
    const chapters = [];
    for (const c of manifest.chapters) {
      const stored = await loadChapter(c.textKey);
      chapters.push({
        index: c.index,
        title: c.title,
        paragraphs: stored.paragraphs,
        image: c.image ? await image(c.image.key, c.image.alt) : undefined,
      });
      heartbeat();
    }
    const brief = row.generationSettings as BookBrief;
    return {
      id: manifest.ebookId,
      title: manifest.title,
      subtitle: outline.logline,
      author: typeof row.metadata?.author === 'string' ? row.metadata.author : 'Ebook Engine',
      language: brief.language ?? 'en',
      description: outline.logline,
      keywords: [brief.era, brief.style, brief.mood].filter((k): k is string => Boolean(k)),
      cover: await image(manifest.coverKey, manifest.coverAlt),
      chapters,
      watermark: manifest.watermark,
      credits: [...new Set(manifest.credits.filter(Boolean))],
      modified: new Date().toISOString(),
    };
  }
}
