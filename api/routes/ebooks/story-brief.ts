/**
 * The brief of a book made from one of the caller's stories (POST /ebooks with
 * `storyId`), checked before any allowance is taken.
 */
import type { Services } from '../../../wiring/services';
import { storyParagraphs } from '../../../activities/story-books';
import { HttpProblem } from '../../problem';
import { fieldProblem } from '../helpers/request';
import type { BookBrief } from '../../../core/brief';

/**
 * The brief of a book made from the caller's story: another user's story is a
 * 404, one that is not finished a 409, and a chapter count above the story's
 * paragraphs a 400. Without a chapter count the book has the story's sections.
 */
export async function briefFromStory(
  services: Pick<Services, 'repos'>,
  profileId: string,
  body: Omit<BookBrief, 'prompt'> & { prompt?: string; storyId?: string },
  chapterCountGiven: boolean,
): Promise<BookBrief & { storyId: string }> {
  const story = await services.repos.stories.get(body.storyId!);
  if (!story || story.userId !== profileId) throw fieldProblem(404, 'Not Found', 'body.storyId', 'no such story for this user');
  if (story.status !== 'completed' && story.status !== 'published') {
    throw new HttpProblem(409, 'Conflict', `body.storyId: the story is ${story.status}; a book needs a completed story`, {
      storyStatus: story.status,
    });
  }
  const paragraphs = storyParagraphs(story.content).length;
  const sections = ((story.metadata.outline as { chapters?: unknown[] } | undefined)?.chapters ?? []).length;
  const chapterCount = chapterCountGiven ? body.chapterCount : Math.min(sections || 3, paragraphs);
  if (chapterCount > paragraphs) {
    throw fieldProblem(400, 'Invalid request', 'body.chapterCount', `must be at most ${paragraphs}, the story's paragraphs`);
  }
  const settings = (story.generationSettings ?? {}) as Partial<BookBrief>;
  const { prompt: _unused, ...rest } = body;
  return {
    ...rest,
    chapterCount,
    storyId: story.id,
    era: body.era ?? settings.era,
    language: body.language ?? settings.language,
    prompt: settings.prompt ?? story.title,
  };
}

