/**
 * The book's pictures: one illustration a chapter and the cover, each prompt
 * carrying the outline's style bible so the pictures agree, moderated before the
 * image provider is paid.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorTypes, type ImageRef } from '../workflows/shared';
import { bible, seedOf, type BookReads } from './book-reads';
import type { ActivityDeps } from './deps';
import type { ProviderCalls } from './provider-calls';
import { keys } from './storage/types';
import type { Ebook } from '../db/repositories';
import type { ImageResult, Outline } from './providers/types';

const ILLUSTRATION_SIZE = 1024;
const COVER_WIDTH = 1200;
const COVER_HEIGHT = 1800;

const extensionOf = (mime: string) => (mime === 'image/png' ? 'png' : 'jpg');

/** What a cover says: the book's title and its subtitle (the logline, or the description a person gave). */
interface Lettering {
  title: string;
  subtitle: string;
  language?: string;
}

export function createPictureActivities(deps: ActivityDeps, calls: ProviderCalls, reads: BookReads) {
  const { repos, storage, events } = deps;
  const { heartbeat, signal, recordCall, paidEarlier, tracked, refuseIfFlagged } = calls;

  /**
   * A picture paid for once: an earlier attempt of this activity that was paid for it and
   * stored it (then failed at a later write) gives its stored picture back; otherwise
   * `draw` calls the provider and the picture is stored under `keyFor(extension)` before its
   * ledger row is recorded, the row naming where it is, so a retry finds both. Resolves to
   * the stored picture's key and who drew it.
   */
  const paidPicture = async (
    ebookId: string,
    step: 'illustration' | 'cover',
    index: number | undefined,
    keyFor: (ext: string) => string,
    draw: () => Promise<ImageResult>,
  ): Promise<{ key: string; producer: string }> => {
    const paid = await paidEarlier<{ key: string }>(ebookId, step, index);
    if (paid && (await storage.head(paid.value.key))) return { key: paid.value.key, producer: paid.provider };
    const provider = deps.image;
    const result = await tracked(ebookId, step, provider.name, draw);
    const producer = result.provider ?? provider.name;
    const key = keyFor(extensionOf(result.mime));
    try {
      await storage.put(key, result.data, { contentType: result.mime });
    } catch (err) {
      // Paid for but not kept: the row says so (nothing to reuse), and the retry pays anew.
      // The storage's failure is the one the activity reports, also when this record fails too.
      await recordCall(ebookId, step, producer, result.model, result.usage, index).catch(() => undefined);
      throw err;
    }
    await recordCall(ebookId, step, producer, result.model, result.usage, index, { key });
    return { key, producer };
  };

  const lettering = (book: Ebook, outline: Outline): Lettering => ({
    title: book.title || outline.title,
    subtitle: book.description ?? outline.logline,
    language: reads.briefOf(book).language,
  });

  /** Draws the cover with these words on it and notes them on the row, to know when they change. */
  const drawCoverFor = async (ebookId: string, outline: Outline, words: Lettering, revision?: number): Promise<ImageRef> => {
    const provider = deps.image;
    heartbeat();
    const prompt = `Book cover for "${words.title}": ${words.subtitle} ${bible(outline)}`;
    await refuseIfFlagged(prompt, 'the cover prompt');
    const { key, producer } = await paidPicture(ebookId, 'cover', undefined, (ext) => keys.cover(ebookId, ext, revision), () => provider.generateImage(
      {
        kind: 'cover',
        prompt,
        width: COVER_WIDTH,
        height: COVER_HEIGHT,
        seed: seedOf(ebookId),
        palette: outline.palette,
        title: words.title,
        subtitle: words.subtitle,
        language: words.language,
      },
      signal(),
    ));
    await repos.ebooks.mergeMetadata(ebookId, { cover: { title: words.title, subtitle: words.subtitle } });
    await events.publish(ebookId, 'cover', { provider: producer });
    return { key, alt: `Cover of “${words.title}”`, provider: producer };
  };

  return {
    async drawIllustration({
      ebookId,
      index,
      revision,
    }: {
      ebookId: string;
      index: number;
      revision?: number;
    }): Promise<ImageRef> {
      const outline = await reads.loadOutline(ebookId);
      const chapter = outline.chapters.find((c) => c.index === index);
      if (!chapter) {
        throw ApplicationFailure.nonRetryable(`chapter ${index} is not in the outline`, ErrorTypes.BadInput);
      }
      const provider = deps.image;
      heartbeat({ index });
      const prompt = `Illustration for chapter ${index}, "${chapter.title}": ${chapter.summary} ${bible(outline)}`;
      await refuseIfFlagged(prompt, `the illustration prompt of chapter ${index}`);
      const illustrationKey = (ext: string) => keys.illustration(ebookId, index, ext, revision);
      const { key, producer } = await paidPicture(ebookId, 'illustration', index, illustrationKey, () => provider.generateImage(
        {
          kind: 'illustration',
          prompt,
          width: ILLUSTRATION_SIZE,
          height: ILLUSTRATION_SIZE,
          seed: seedOf(ebookId),
          palette: outline.palette,
          caption: `Chapter ${index}: ${chapter.title}`,
          scene: `${chapter.title}. ${chapter.summary}`,
          index,
        },
        signal(),
      ));
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
      const [book, outline] = await Promise.all([reads.loadBook(ebookId), reads.loadOutline(ebookId)]);
      return drawCoverFor(ebookId, outline, lettering(book, outline), revision);
    },

    /**
     * The cover again when the book's title or subtitle changed since it was drawn (a `PUT`
     * before the files are re-run), so the files and their cover agree; null, and nothing
     * paid, when the cover still says what the book says.
     */
    async redrawCoverIfRetitled({ ebookId, revision }: { ebookId: string; revision: number }): Promise<ImageRef | null> {
      const [book, outline] = await Promise.all([reads.loadBook(ebookId), reads.loadOutline(ebookId)]);
      const wanted = lettering(book, outline);
      const drawn = (book.metadata?.cover as Lettering | undefined) ?? { title: outline.title, subtitle: outline.logline };
      if (drawn.title === wanted.title && drawn.subtitle === wanted.subtitle) return null;
      return drawCoverFor(ebookId, outline, wanted, revision);
    },
  };
}
