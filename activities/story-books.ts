/**
 * A book made from an existing story: its chapters are the story's own text,
 * split at paragraph boundaries, so no text is generated (and nothing is spent
 * on text). The outline the illustrations, cover and files need is built from
 * the story's storyline when it has one, else from the text itself.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps, StoredChapter } from './deps';
import type { Outline, OutlineCharacter } from './providers/types';
import { keys } from './storage/types';
import { getEra } from '../core/eras';
import { ErrorTypes } from '../workflows/shared';
import type { BookBrief } from '../core/brief';

/** The storyline a generated story keeps in `metadata.outline` (chapters carry their paragraph counts). */
interface StoryOutline extends Partial<Omit<Outline, 'chapters'>> {
  chapters?: Array<{ index: number; title: string; summary?: string; paragraphs?: number }>;
}

/** A chapter stored from a story, with who wrote it. */
interface StoryChapter extends StoredChapter {
  credit?: string;
}

export interface StoryPart {
  title: string;
  paragraphs: string[];
}

export function storyParagraphs(content: string): string[] {
  return content
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean);
}

const wordsOf = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** A few first words of a text, as a title costs nothing to make. */
function cheapTitle(paragraph: string): string {
  const words = paragraph.replace(/[“”"«»]/g, '').split(/\s+/).filter(Boolean);
  const head = words.slice(0, 6).join(' ').replace(/[\s,;:.!?…-]+$/, '');
  return words.length > 6 ? `${head}…` : head;
}

/**
 * Splits the story into `count` chapters at paragraph boundaries. When the story's
 * storyline has exactly `count` sections that still match the text, the sections
 * are the chapters (with their titles); otherwise the paragraphs are divided into
 * runs of about equal length, titled from the storyline's sections when it has as
 * many, else from each chapter's first words.
 */
export function splitStory(content: string, count: number, outline?: StoryOutline): StoryPart[] {
  const paragraphs = storyParagraphs(content);
  if (count < 1 || count > paragraphs.length) {
    throw new RangeError(`cannot split ${paragraphs.length} paragraph(s) into ${count} chapter(s)`);
  }
  const sections = outline?.chapters ?? [];
  const counts = sections.map((c) => c.paragraphs ?? 0);
  if (sections.length === count && counts.every((n) => n > 0) && counts.reduce((a, b) => a + b, 0) === paragraphs.length) {
    let at = 0;
    return sections.map((c, i) => {
      const part = paragraphs.slice(at, at + counts[i]);
      at += counts[i];
      return { title: c.title, paragraphs: part };
    });
  }
  const total = paragraphs.reduce((n, p) => n + wordsOf(p), 0);
  const parts: string[][] = [];
  let current: string[] = [];
  let words = 0;
  paragraphs.forEach((p, i) => {
    current.push(p);
    words += wordsOf(p);
    const left = paragraphs.length - i - 1;
    const chaptersLeft = count - parts.length - 1;
    // Cut once this chapter's share is reached, and always when the rest is needed one paragraph each.
    const due = words >= (total * (parts.length + 1)) / count;
    if (chaptersLeft > 0 && (left === chaptersLeft || (due && left >= chaptersLeft))) {
      parts.push(current);
      current = [];
    }
  });
  parts.push(current);
  return parts.map((part, i) => ({
    title: sections.length === count ? sections[i].title : cheapTitle(part[0]),
    paragraphs: part,
  }));
}

export function createStoryBookSteps(deps: ActivityDeps) {
  const { storage } = deps;

  return {
    /**
     * The book's outline from its story; each chapter's text is stored right away
     * (a snapshot: rewriting the story later does not change this book).
     */
    async outline(ebookId: string, brief: BookBrief & { storyId: string }): Promise<{ outline: Outline; provider: string }> {
      const story = await deps.repos.stories.get(brief.storyId);
      const book = await deps.repos.ebooks.get(ebookId);
      if (!story || !book || story.userId !== book.userId) {
        throw ApplicationFailure.nonRetryable(`story ${brief.storyId} does not exist`, ErrorTypes.NotFound);
      }
      const storyline = (story.metadata.outline ?? undefined) as StoryOutline | undefined;
      let parts: StoryPart[];
      try {
        parts = splitStory(story.content, brief.chapterCount, storyline);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, ErrorTypes.BadInput);
      }
      const era = getEra(brief.era);
      const characters: OutlineCharacter[] =
        storyline?.characters ?? (brief.characterName ? [{ name: brief.characterName, look: brief.archetype ?? '', personality: '' }] : []);
      const firstSentence = storyParagraphs(story.content)[0].split(/(?<=[.!?])\s/)[0].slice(0, 300);
      const outline: Outline = {
        title: story.title,
        logline: storyline?.logline ?? firstSentence,
        characters,
        setting: storyline?.setting ?? brief.place ?? '',
        style: brief.style ?? storyline?.style ?? 'storybook illustration',
        palette: storyline?.palette ?? (era ? [era.colors[0], era.colors[1]] : ['#2f4858', '#f6ae2d']),
        chapters: parts.map((p, i) => ({
          index: i + 1,
          title: p.title,
          // The chapter's opening stands in for a summary: its illustration is drawn from it.
          summary: p.paragraphs.join(' ').split(/\s+/).slice(0, 40).join(' '),
          targetWords: wordsOf(p.paragraphs.join(' ')),
        })),
      };
      const generation = story.metadata.generation as { providers?: { text?: string } } | undefined;
      // Credited as whoever wrote the story: its text provider, or its author.
      const credit = generation?.providers?.text ?? 'author';
      for (const [i, p] of parts.entries()) {
        const stored: StoryChapter = { index: i + 1, title: p.title, paragraphs: p.paragraphs, credit };
        await storage.put(keys.chapter(ebookId, i + 1), Buffer.from(JSON.stringify(stored)));
      }
      return { outline, provider: credit };
    },

    /** A chapter's text as stored by `outline`. */
    async chapter(ebookId: string, index: number): Promise<{ key: string; paragraphs: string[]; credit: string }> {
      const key = keys.chapter(ebookId, index);
      const stored = JSON.parse((await storage.get(key)).toString('utf8')) as StoryChapter;
      return { key, paragraphs: stored.paragraphs, credit: stored.credit ?? 'author' };
    },
  };
}
