/**
 * The book's first steps: its prompt moderated before anything is spent, the row
 * marked running, and the outline (title, cast, chapter plan) written, or built from
 * the story a book is made of.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { briefText, type BookBrief } from '../core/brief';
import { ErrorTypes, type OutlineRef } from '../workflows/shared';
import { checkedBrief, seedOf, type BookReads } from './book-reads';
import type { ActivityDeps } from './deps';
import type { ProviderCalls } from './provider-calls';
import type { Outline } from './providers/types';
import { warmUpRenderers } from './render/warmup';
import type { createStoryBookSteps } from './story-books';
import { keys } from './storage/types';
import { noteTextLanguage } from './text-language';

/** The outline's own words (not its style notes, which the illustrator reads). */
const outlineText = (o: Outline) => [o.title, o.logline, ...o.chapters.flatMap((c) => [c.title, c.summary])].join('\n');

export function createOutlineActivities(
  deps: ActivityDeps,
  calls: ProviderCalls,
  reads: BookReads,
  fromStory: ReturnType<typeof createStoryBookSteps>,
) {
  const { repos, storage, events } = deps;
  const { heartbeat, signal, recordCall, tracked, refuseIfFlagged } = calls;

  return {
    /** The brief's free text, before anything is generated or spent. */
    async moderatePrompt({ ebookId, brief }: { ebookId: string; brief: BookBrief }): Promise<void> {
      heartbeat();
      await refuseIfFlagged(briefText(brief), `the prompt of ebook ${ebookId}`);
    },

    async startEbook({ ebookId }: { ebookId: string }): Promise<void> {
      const book = await reads.loadBook(ebookId);
      if (book.status === 'cancelled') {
        throw ApplicationFailure.nonRetryable(`ebook ${ebookId} was cancelled`, ErrorTypes.BadInput);
      }
      await repos.ebooks.updateStatus(ebookId, { status: 'running', stage: 'outline' });
      await events.publish(ebookId, 'stage', { stage: 'outline' });
    },

    async writeOutline(input: { ebookId: string; brief: BookBrief }): Promise<OutlineRef> {
      const { ebookId } = input;
      // Once per worker process, in the background: fonts parsed and layout code compiled
      // while the book is being written, so its render is as fast as a warm worker's.
      void warmUpRenderers();
      const brief = checkedBrief(input.brief, 'brief');
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
        spent = Promise.all([
          recordCall(ebookId, 'outline', producer, written.model, written.usage),
          // A writer that cannot write the book's language (the offline one writes English): said in the status.
          noteTextLanguage(deps, ebookId, producer, brief.language, outlineText(outline)),
        ]);
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
        // Whoever really wrote it: behind a failover, or a story's author or writer.
        offline: producer === 'offline',
      });
      return {
        outlineKey: stored.key,
        title: outline.title,
        chapters: outline.chapters.map((c) => ({ index: c.index, title: c.title })),
        provider: producer,
        seed: seedOf(ebookId),
      };
    },
  };
}
