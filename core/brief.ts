/**
 * The brief: what a person asks a book (or a story) to be. Its type, the schema that
 * checks it at the API, the schema that reads it back from a row, its limits and the
 * text that moderation judges. The web page, the API, the workflows (types only) and
 * the activities all take it from here, so a limit is written once.
 */
import { z } from 'zod';
import { ERAS, isEraId } from './eras';
import { CHAPTER_COUNT } from './limits';

export { CHAPTER_COUNT };

const chapterLimit = `must be ${CHAPTER_COUNT.min}-${CHAPTER_COUNT.max}`;

/** A chapter count as the API and the profile's default take it. */
export const chapterCountSchema = z
  .number()
  .int('must be an integer')
  .min(CHAPTER_COUNT.min, chapterLimit)
  .max(CHAPTER_COUNT.max, chapterLimit);

export const CHAPTER_MODES = ['parallel', 'sequential'] as const;
export type ChapterMode = (typeof CHAPTER_MODES)[number];

/** What the person asked for; everything a provider needs to shape the book. */
export interface BookBrief {
  prompt: string;
  chapterCount: number;
  era?: string;
  style?: string;
  mood?: string;
  characterName?: string;
  archetype?: string;
  place?: string;
  /** BCP 47 language of the book; defaults to 'en'. */
  language?: string;
  /** A book made from this story (the caller's own) takes its text from it instead of writing one. */
  storyId?: string;
  /**
   * 'parallel' (default): chapters are written at once from the outline.
   * 'sequential': one after the other, each given the end of the previous one as written.
   */
  chapterMode?: ChapterMode;
}

const text = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);

/** The brief's fields as a request gives them (books and stories alike). */
export const briefSchema = z.object({
  // `pattern`: the document says what trim() + min(1) mean, so a client never sends only spaces.
  prompt: z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters').meta({ pattern: '\\S' }),
  chapterCount: chapterCountSchema.default(CHAPTER_COUNT.default),
  era: z
    .string()
    .refine(isEraId, { message: `must be one of ${ERAS.map((e) => e.id).join(', ')}` })
    // The refine is invisible to the OpenAPI document; the list is what it checks.
    .meta({ enum: ERAS.map((e) => e.id) })
    .optional(),
  style: text(100).optional(),
  mood: text(100).optional(),
  characterName: text(50).optional(),
  archetype: text(100).optional(),
  place: text(100).optional(),
  language: z
    .string()
    .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, 'must be a BCP 47 language tag such as "en"')
    .optional(),
});

const optionalText = z.string().nullish().transform((v) => v ?? undefined);

/**
 * A brief as it was stored with its book (the workflow's input, the row's
 * `generation_settings`): the shape and the limits the engine depends on, without the
 * request's length rules, so an older row still reads.
 */
export const storedBriefSchema = z.object({
  prompt: z.string().refine((p) => p.trim() !== '', 'must not be empty'),
  chapterCount: chapterCountSchema,
  era: optionalText,
  style: optionalText,
  mood: optionalText,
  characterName: optionalText,
  archetype: optionalText,
  place: optionalText,
  language: optionalText,
  storyId: optionalText,
  chapterMode: z.enum(CHAPTER_MODES).nullish().transform((v) => v ?? undefined),
});

/** The name a book is published under instead of its owner's profile name. */
export const penNameSchema = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

export class InvalidBriefError extends Error {}

/** The brief, checked; an `InvalidBriefError` naming the field when it is not one. */
export function parseBrief(value: unknown, where = 'brief'): BookBrief {
  const parsed = storedBriefSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length ? `${where}.${issue.path.join('.')}` : where;
    throw new InvalidBriefError(`${field}: ${issue.message}`);
  }
  const brief: BookBrief = { prompt: parsed.data.prompt, chapterCount: parsed.data.chapterCount };
  for (const [k, v] of Object.entries(parsed.data)) {
    if (v !== undefined) (brief as unknown as Record<string, unknown>)[k] = v;
  }
  return brief;
}

/** The brief's free text, one field a line, as moderation judges it (with any extra text, e.g. feedback). */
export function briefText(brief: Partial<BookBrief>, ...extra: Array<string | undefined>): string {
  return [brief.prompt, brief.characterName, brief.archetype, brief.place, brief.style, brief.mood, ...extra]
    .filter((t): t is string => typeof t === 'string' && t.trim() !== '')
    .join('\n');
}
