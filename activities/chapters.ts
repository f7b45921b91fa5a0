/**
 * A chapter's text: written by the text provider and streamed to readers one moderated
 * piece at a time, or taken from the story a book is made of. A retried attempt first
 * tells readers to drop what the earlier one streamed.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorTypes, type ChapterRef } from '../workflows/shared';
import type { BookReads } from './book-reads';
import type { ActivityDeps, StoredChapter } from './deps';
import type { ProviderCalls } from './provider-calls';
import { currentAttempt } from './providers/failover';
import type { ChapterResult } from './providers/types';
import { warmUpRenderers } from './render/warmup';
import type { createStoryBookSteps } from './story-books';
import { keys } from './storage/types';
import { noteTextLanguage } from './text-language';

/** How many characters of the previous chapter's written end a sequential chapter is given. */
const PREVIOUS_ENDING_CHARS = 1500;

const wordCount = (paragraphs: string[]) => paragraphs.join(' ').split(/\s+/).filter(Boolean).length;

export function createChapterActivities(
  deps: ActivityDeps,
  calls: ProviderCalls,
  reads: BookReads,
  fromStory: ReturnType<typeof createStoryBookSteps>,
) {
  const { repos, storage, events } = deps;
  const { recordCall, paidEarlier, refuseIfFlagged, writeModerated } = calls;

  /** A story-book's chapter: the story's text stored at outline time, moderated like any chapter. */
  const chapterFromStory = async (ebookId: string, index: number): Promise<ChapterRef> => {
    const { key, paragraphs, credit: producer } = await fromStory.chapter(ebookId, index);
    await refuseIfFlagged(paragraphs.join('\n\n'), `chapter ${index}`);
    const words = wordCount(paragraphs);
    await events.publish(ebookId, 'chapter.text', { index, delta: paragraphs.join('\n\n') });
    await repos.ebooks.setChapter(ebookId, index, { status: 'written', words, textKey: key, textProvider: producer });
    await events.publish(ebookId, 'chapter.written', { index, words, provider: producer });
    return { index, textKey: key, words, provider: producer };
  };

  /**
   * The end of chapter `index - 1` as it was actually written (its latest
   * version), cut at a paragraph start; undefined when it has no stored text yet.
   */
  const previousEnding = async (book: { chapters: Array<{ index: number; textKey?: string | null }> }, index: number) => {
    const key = book.chapters.find((c) => c.index === index - 1)?.textKey;
    if (!key) return undefined;
    const paragraphs = (await reads.loadChapter(key)).paragraphs;
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

  return {
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
      const [bookRead, outlineRead] = await Promise.allSettled([reads.loadBook(ebookId), reads.loadOutline(ebookId)]);
      if (bookRead.status === 'rejected') throw bookRead.reason;
      if (outlineRead.status === 'rejected') throw outlineRead.reason;
      const book = bookRead.value;
      const outline = outlineRead.value;
      const chapter = outline.chapters.find((c) => c.index === index);
      if (!chapter) {
        throw ApplicationFailure.nonRetryable(`chapter ${index} is not in the outline`, ErrorTypes.BadInput);
      }
      const brief = reads.briefOf(book);
      if (revision?.feedback) await refuseIfFlagged(revision.feedback, `the feedback on chapter ${index}`);
      // A retry writes the chapter afresh: clients drop the text an earlier attempt streamed
      // (a stream cut mid-way, a worker that died) before the new text arrives.
      const attempt = currentAttempt();
      if (attempt > 1) await events.publish(ebookId, 'chapter.restart', { index, attempt });
      if (brief.storyId && !revision) return chapterFromStory(ebookId, index);
      // Marked "writing" while the provider request goes out, not before it; settled before the
      // chapter is stored, so "written" always lands last. Only a progress mark: if it fails
      // (the database is restarting), the chapter goes on rather than being paid for twice.
      const markedWriting = repos.ebooks.setChapter(ebookId, index, { status: 'writing' }).catch(() => false);
      const provider = deps.text;
      // An earlier attempt that was paid for its text and then failed (a later write lost the
      // database, the worker was killed) left the text with its ledger row: it is used again.
      const paid = await paidEarlier<{ paragraphs: string[] }>(ebookId, 'chapter', index);
      const reuse: ChapterResult | undefined = paid && { paragraphs: paid.value.paragraphs, provider: paid.provider, model: paid.model, usage: {} };
      // Sequential books continue from what the previous chapter actually says, not only its plan.
      const ending = brief.chapterMode === 'sequential' && !reuse ? await previousEnding(book, index) : undefined;
      // The text reaches clients only after moderation passed it, piece by piece; a refused
      // chapter never becomes part of the book.
      const result = await writeModerated({
        ebookId,
        step: 'chapter',
        provider: provider.name,
        what: `chapter ${index}`,
        heartbeatDetails: { index },
        publish: (piece) => events.publish(ebookId, 'chapter.text', { index, delta: piece }),
        record: (producer, model, usage, written) =>
          recordCall(ebookId, 'chapter', producer, model, usage, index, written && { paragraphs: written.paragraphs }),
        reuse,
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
      const words = wordCount(result.paragraphs);
      await Promise.all([
        repos.ebooks.setChapter(ebookId, index, {
          status: 'written',
          words,
          textKey: key,
          textProvider: producer,
        }),
        // The chapter may not be in the book's language (a writer that cannot write it): the status says so.
        noteTextLanguage(deps, ebookId, producer, brief.language, result.paragraphs.join('\n\n')),
      ]);
      await events.publish(ebookId, 'chapter.written', { index, words, provider: producer });
      return { index, textKey: key, words, provider: producer };
    },
  };
}
