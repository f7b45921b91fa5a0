/**
 * The story workflow's activities: a storyline (the text provider's outline)
 * and the story's sections (its chapter writer), through the same provider
 * failover, cost ledger and moderation as books. Sections are stored, and the
 * story's text replaces the previous one only when every section is there.
 *
 * Readers follow a run on `GET /v1/stories/{id}/events`: `stage`, `outline`, each
 * section's moderated text as it is written (`section.text`, after a
 * `section.restart` when an attempt is retried), `section.written`, then
 * `completed`, `failed` or `cancelled`. Every event names the run's `revision`.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { currentAttempt } from './providers/failover';
import type { ActivityDeps, StoredChapter } from './deps';
import type { ProviderCalls } from './provider-calls';
import type { Outline } from './providers/types';
import { announceRunEnd } from '../db/story-generation';
import { ErrorTypes, type EbookError } from '../workflows/shared';
import type { StoryOutlineRef, StorySectionRef } from '../workflows/story-ai-shared';
import { briefText, type BookBrief } from '../core/brief';

export const storyKeys = {
  outline: (storyId: string, revision: number) => `stories/${storyId}/r${revision}/outline.json`,
  section: (storyId: string, revision: number, index: number) =>
    `stories/${storyId}/r${revision}/section-${String(index).padStart(2, '0')}.json`,
};

/** The brief with the reader's wish for a rewrite folded into the prompt. */
const withFeedback = (brief: BookBrief, feedback?: string): BookBrief =>
  feedback ? { ...brief, prompt: `${brief.prompt}\n\nFor this new version: ${feedback}` } : brief;

export function createStoryActivities(deps: ActivityDeps, calls: ProviderCalls) {
  const { storage } = deps;
  const db = { runs: deps.repos.storyRuns, stories: deps.repos.stories };
  const { heartbeat, signal, tracked, recordOwnedCall, refuseIfFlagged, writeModerated } = calls;
  /** One event of a story's run for its readers (a wiring without the story bus has none). */
  const publish = async (storyId: string, revision: number, type: string, data: Record<string, unknown> = {}) => {
    await deps.storyEvents?.publish(storyId, type, { revision, ...data });
  };

  const loadStory = async (storyId: string) => {
    const story = await db.stories.get(storyId);
    if (!story) throw ApplicationFailure.nonRetryable(`story ${storyId} does not exist`, ErrorTypes.NotFound);
    return story;
  };
  const loadJson = async <T>(key: string): Promise<T> => JSON.parse((await storage.get(key)).toString('utf8')) as T;

  return {
    async moderateStoryPrompt(input: { storyId: string; brief: BookBrief; feedback?: string }): Promise<void> {
      heartbeat();
      await refuseIfFlagged(briefText(input.brief, input.feedback), `the prompt of story ${input.storyId}`);
    },

    async writeStoryOutline(input: {
      storyId: string;
      profileId: string;
      revision: number;
      brief: BookBrief;
      feedback?: string;
    }): Promise<StoryOutlineRef> {
      const { storyId, revision, brief } = input;
      await loadStory(storyId);
      await db.runs.progress(storyId, revision, { stage: 'outline', progress: 0.05 });
      await publish(storyId, revision, 'stage', { stage: 'outline', progress: 0.05 });
      const provider = deps.text;
      const written = await tracked(undefined, 'story.outline', provider.name, () =>
        provider.writeOutline(withFeedback(brief, input.feedback), signal()),
      );
      const producer = written.provider ?? provider.name;
      if (written.outline.chapters.length !== brief.chapterCount) {
        // A provider that ignores the requested length would write a wrong story; retrying may help.
        throw new Error(`${producer} wrote ${written.outline.chapters.length} sections, ${brief.chapterCount} were asked for`);
      }
      await recordOwnedCall({ profileId: input.profileId, storyId }, 'story.outline', producer, written.model, written.usage);
      const key = storyKeys.outline(storyId, revision);
      await storage.put(key, Buffer.from(JSON.stringify(written.outline)));
      await db.runs.progress(storyId, revision, {
        stage: 'writing',
        progress: 0.15,
        sections: { done: 0, total: brief.chapterCount },
        providers: { text: producer },
      });
      await publish(storyId, revision, 'outline', {
        title: written.outline.title,
        logline: written.outline.logline,
        sections: written.outline.chapters.map((c) => ({ index: c.index, title: c.title })),
        provider: producer,
        progress: 0.15,
      });
      return { outlineKey: key, title: written.outline.title, sections: written.outline.chapters.length, provider: producer };
    },

    async writeStorySection(input: {
      storyId: string;
      profileId: string;
      revision: number;
      index: number;
      brief: BookBrief;
      feedback?: string;
    }): Promise<StorySectionRef> {
      const { storyId, revision, index } = input;
      const outline = await loadJson<Outline>(storyKeys.outline(storyId, revision));
      const chapter = outline.chapters.find((c) => c.index === index);
      if (!chapter) throw ApplicationFailure.nonRetryable(`section ${index} is not in the storyline`, ErrorTypes.BadInput);
      const provider = deps.text;
      // A retry writes the section afresh: readers drop what an earlier attempt streamed.
      const attempt = currentAttempt();
      if (attempt > 1) await publish(storyId, revision, 'section.restart', { index, attempt });
      // Readers get the text once moderation passed it, piece by piece; refused text
      // never becomes part of the story.
      const result = await writeModerated({
        step: 'story.section',
        provider: provider.name,
        what: `section ${index} of story ${storyId}`,
        heartbeatDetails: { index },
        publish: (piece) => publish(storyId, revision, 'section.text', { index, delta: piece }),
        record: (producer, model, usage) =>
          recordOwnedCall({ profileId: input.profileId, storyId }, 'story.section', producer, model, usage, index),
        call: (onText, providerSignal) =>
          provider.writeChapter(
            {
              brief: withFeedback(input.brief, input.feedback),
              outline,
              chapter,
              previousSummaries: outline.chapters.filter((c) => c.index < index).map((c) => c.summary),
              revision: input.feedback ? { number: revision, feedback: input.feedback } : undefined,
            },
            onText,
            providerSignal,
          ),
      });
      const producer = result.provider ?? provider.name;
      const stored: StoredChapter = { index, title: chapter.title, paragraphs: result.paragraphs };
      const key = storyKeys.section(storyId, revision, index);
      await storage.put(key, Buffer.from(JSON.stringify(stored)));
      // Sections run concurrently: count the stored ones rather than add to a shared counter.
      let done = 0;
      for (const c of outline.chapters) if (await storage.head(storyKeys.section(storyId, revision, c.index))) done++;
      const total = outline.chapters.length;
      const progress = Math.round((0.15 + 0.8 * (done / total)) * 1000) / 1000;
      await db.runs.sectionDone(storyId, revision, done, total, progress);
      const words = result.paragraphs.join(' ').split(/\s+/).filter(Boolean).length;
      await publish(storyId, revision, 'section.written', { index, words, provider: producer, sections: { done, total }, progress });
      return { index, key, words, provider: producer };
    },

    /** Puts the sections together as the story's text, title and outline; the previous text stays until now. */
    async completeStory(input: { storyId: string; revision: number; outlineKey: string; sectionKeys: string[] }): Promise<void> {
      const { storyId, revision } = input;
      const story = await loadStory(storyId);
      const outline = await loadJson<Outline>(input.outlineKey);
      const sections: StoredChapter[] = [];
      for (const key of input.sectionKeys) sections.push(await loadJson<StoredChapter>(key));
      const generation = (story.metadata.generation ?? {}) as { previousStatus?: string };
      // A rewrite of a published story is published again; anything else is simply completed.
      const status = generation.previousStatus === 'published' ? 'published' : 'completed';
      const stored = await db.runs.complete(storyId, revision, {
        title: outline.title,
        content: sections.map((s) => s.paragraphs.join('\n\n')).join('\n\n'),
        status,
        outline: {
          ...outline,
          chapters: outline.chapters.map((c, i) => ({ ...c, paragraphs: sections[i]?.paragraphs.length ?? 0 })),
        },
        generation: { stage: 'completed', progress: 1, sections: { done: sections.length, total: sections.length }, error: null },
      });
      if (!stored) return; // a newer run took over (or the story was deleted): nothing of this one is kept
      await deps.repos.activities.record({
        userId: story.userId,
        type: 'story_generated',
        data: { storyId, revision },
        dedupeKey: `story_generated:${storyId}:${revision}`,
      });
      // Last: readers hear of the end once everything of it is stored.
      await publish(storyId, revision, 'completed', { title: outline.title, status, progress: 1 });
    },

    /** A failed first run marks the story failed; a failed rewrite keeps the previous text and status. */
    async failStory(input: { storyId: string; revision: number; error: EbookError }): Promise<void> {
      const story = await db.stories.get(input.storyId);
      if (!story) return;
      const generation = (story.metadata.generation ?? {}) as { previousStatus?: string };
      await db.runs.failRun(input.storyId, input.revision, generation.previousStatus, input.error);
      await announceRunEnd(deps.storyEvents, input.storyId, input.revision, input.error);
    },
  };
}
