/**
 * The outline review (books started with `review: 'outline'`): the book marked as
 * waiting with its outline shown, the owner's edit stored, a revised outline
 * written from their feedback, a reminder before the review runs out, and the
 * book back to running once approved. The stored outline.json stays the one source
 * every later step reads, so an approved edit is what the chapters are written from.
 */
import { briefText, type BookBrief } from '../core/brief';
import type { OutlineChapterEdit } from '../core/outline-review';
import type { ReviewOutline } from '../workflows/shared';
import { checkedBrief, type BookReads } from './book-reads';
import type { ActivityDeps } from './deps';
import type { ProviderCalls } from './provider-calls';
import type { Outline, OutlineResult } from './providers/types';
import { keys } from './storage/types';

/** A chapter's planned length when the owner adds one: the average of the planned ones. */
const averageWords = (outline: Outline) =>
  Math.round(outline.chapters.reduce((n, c) => n + c.targetWords, 0) / Math.max(outline.chapters.length, 1)) || 1200;

export const reviewOutlineOf = (outline: Outline, version: number, expiresAt?: string): ReviewOutline => ({
  version,
  title: outline.title,
  logline: outline.logline,
  characters: outline.characters.map((c) => ({ name: c.name, personality: c.personality })),
  chapters: outline.chapters.map((c) => ({ index: c.index, title: c.title, summary: c.summary })),
  ...(expiresAt ? { expiresAt } : {}),
});

/** The owner's own chapter plan (already checked by the update's validator), numbered afresh. */
export function editedOutline(outline: Outline, edit: { title?: string; chapters: OutlineChapterEdit[] }): Outline {
  const planned = new Map(outline.chapters.map((c) => [c.title, c.targetWords]));
  const words = averageWords(outline);
  return {
    ...outline,
    title: edit.title?.trim() || outline.title,
    chapters: edit.chapters.map((c, i) => ({
      index: i + 1,
      title: c.title.trim(),
      summary: c.summary.trim(),
      targetWords: planned.get(c.title.trim()) ?? words,
    })),
  };
}

/**
 * A new outline from the text provider: the brief, as many chapters as the plan now
 * has, and the owner's feedback (moderated first). The caller records the call.
 */
export async function revisedOutline(
  deps: ActivityDeps,
  calls: ProviderCalls,
  input: { ebookId?: string; step: string; what: string; brief: BookBrief; current: Outline; feedback: string },
): Promise<OutlineResult & { producer: string }> {
  const { current, feedback } = input;
  await calls.refuseIfFlagged(briefText({}, feedback), input.what);
  const brief = checkedBrief(
    {
      ...input.brief,
      chapterCount: current.chapters.length,
      prompt: `${input.brief.prompt}\n\nThe previous outline was "${current.title}". Change it as asked: ${feedback}`,
    },
    'brief',
  );
  const provider = deps.text;
  const written = await calls.tracked(input.ebookId, input.step, provider.name, () => provider.writeOutline(brief, calls.signal()));
  const producer = written.provider ?? provider.name;
  if (written.outline.chapters.length !== brief.chapterCount) {
    // As for the first outline: a provider that ignores the length may do better on a retry.
    throw new Error(`${producer} wrote ${written.outline.chapters.length} chapters, ${brief.chapterCount} were asked for`);
  }
  return { ...written, producer };
}

export function createReviewActivities(deps: ActivityDeps, calls: ProviderCalls, reads: BookReads) {
  const { repos, storage, events } = deps;

  /** One outline version stored, on the row, and shown: what an edit and a revision both end with. */
  const show = async (ebookId: string, outline: Outline, version: number, expiresAt: string): Promise<ReviewOutline> => {
    const review = reviewOutlineOf(outline, version, expiresAt);
    await Promise.all([
      storage.put(keys.outline(ebookId), Buffer.from(JSON.stringify(outline))),
      repos.ebooks.saveOutline(ebookId, {
        title: outline.title,
        description: outline.logline,
        chapters: outline.chapters.map((c) => ({ index: c.index, title: c.title, summary: c.summary, status: 'pending' })),
      }),
      repos.ebooks.setOutlineReview(ebookId, { ...review }),
    ]);
    await events.publish(ebookId, 'outline', { ...review, awaitingReview: true });
    return review;
  };

  return {
    /** The written outline put before its owner: the book waits (status `awaiting_review`). */
    async openOutlineReview({ ebookId, expiresAt }: { ebookId: string; expiresAt: string }): Promise<ReviewOutline> {
      const outline = await reads.loadOutline(ebookId);
      const review = reviewOutlineOf(outline, 1, expiresAt);
      await repos.ebooks.setOutlineReview(ebookId, { ...review });
      await repos.ebooks.updateStatus(ebookId, { status: 'awaiting_review', stage: 'outline_review' });
      await events.publish(ebookId, 'stage', { stage: 'outline_review' });
      await events.publish(ebookId, 'outline', { ...review, awaitingReview: true });
      return review;
    },

    /** The owner's own chapter plan (already checked by the update's validator), numbered afresh. */
    async editOutline(input: {
      ebookId: string;
      version: number;
      title?: string;
      chapters: OutlineChapterEdit[];
      expiresAt: string;
    }): Promise<ReviewOutline> {
      const outline = await reads.loadOutline(input.ebookId);
      return show(input.ebookId, editedOutline(outline, input), input.version, input.expiresAt);
    },

    /** A new outline from the text provider: the brief, as many chapters as the plan now has, and the feedback. */
    async reviseOutline(input: {
      ebookId: string;
      brief: BookBrief;
      feedback: string;
      version: number;
      expiresAt: string;
    }): Promise<ReviewOutline> {
      const { ebookId, feedback } = input;
      const current = await reads.loadOutline(ebookId);
      const written = await revisedOutline(deps, calls, {
        ebookId,
        step: 'outline',
        what: `the outline feedback of ebook ${ebookId}`,
        brief: input.brief,
        current,
        feedback,
      });
      await calls.recordCall(ebookId, 'outline', written.producer, written.model, written.usage);
      return show(ebookId, written.outline, input.version, input.expiresAt);
    },

    /** The review runs out soon: a reminder on the book's event stream. */
    async remindOutlineReview({ ebookId, expiresAt }: { ebookId: string; expiresAt: string }): Promise<void> {
      await events.publish(ebookId, 'review.reminder', { review: 'outline', expiresAt });
    },

    /** Approved: the book runs on to its chapters. */
    async closeOutlineReview({ ebookId }: { ebookId: string }): Promise<void> {
      await repos.ebooks.setOutlineReview(ebookId, null);
      await repos.ebooks.updateStatus(ebookId, { status: 'running', stage: 'chapters' });
      await events.publish(ebookId, 'stage', { stage: 'chapters' });
    },
  };
}
