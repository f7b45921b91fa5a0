/**
 * What a person may answer when a book waits for them to review its outline, and
 * the rules an answer must keep. Hand-written rather than a zod schema: the
 * workflow's update validator runs these checks inside the workflow bundle, and the
 * API documents the same limits from here.
 */
import { CHAPTER_COUNT } from './limits';

/**
 * The outline as the owner reviews it: small text (no chapter is written yet), so
 * the workflow holds it and answers from it; the web page shows the same shape.
 * `version` counts the outline's versions: 1, then one more for each edit or revision.
 */
export interface ReviewOutline {
  version: number;
  title: string;
  logline: string;
  characters: Array<{ name: string; personality: string }>;
  chapters: Array<{ index: number; title: string; summary: string }>;
  /** When the book is cancelled if nobody answers (ISO 8601). */
  expiresAt?: string;
}

export const OUTLINE_LIMITS = { title: 200, summary: 2000, feedback: 2000 } as const;

export interface OutlineChapterEdit {
  title: string;
  summary: string;
}

export type OutlineAnswer =
  | { action: 'approve' }
  /** The whole chapter plan as it should be: added, removed, reordered, retitled or resummarised. */
  | { action: 'edit'; title?: string; chapters: OutlineChapterEdit[] }
  /** A new outline written from the brief and this feedback. */
  | { action: 'revise'; feedback: string };

/** Why an answer is refused, naming the field a client shows it against. */
export interface AnswerProblem {
  field: string;
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function textProblem(value: unknown, field: string, max: number): AnswerProblem | undefined {
  if (typeof value !== 'string') return { field, message: 'must be a string' };
  if (value.trim() === '') return { field, message: 'must not be empty' };
  if (value.length > max) return { field, message: `must be at most ${max} characters` };
  return undefined;
}

/** The first thing wrong with an answer, or undefined when it can be applied. */
export function answerProblem(answer: unknown): AnswerProblem | undefined {
  if (!isObject(answer)) return { field: 'body', message: 'must be an object' };
  switch (answer.action) {
    case 'approve':
      return undefined;
    case 'revise':
      return textProblem(answer.feedback, 'feedback', OUTLINE_LIMITS.feedback);
    case 'edit': {
      if (answer.title !== undefined) {
        const bad = textProblem(answer.title, 'title', OUTLINE_LIMITS.title);
        if (bad) return bad;
      }
      const { chapters } = answer;
      if (!Array.isArray(chapters)) return { field: 'chapters', message: 'must be a list' };
      if (chapters.length < CHAPTER_COUNT.min || chapters.length > CHAPTER_COUNT.max) {
        return { field: 'chapters', message: `must hold ${CHAPTER_COUNT.min}-${CHAPTER_COUNT.max} chapters` };
      }
      for (const [i, c] of chapters.entries()) {
        if (!isObject(c)) return { field: `chapters.${i}`, message: 'must be an object' };
        const bad =
          textProblem(c.title, `chapters.${i}.title`, OUTLINE_LIMITS.title) ??
          textProblem(c.summary, `chapters.${i}.summary`, OUTLINE_LIMITS.summary);
        if (bad) return bad;
      }
      return undefined;
    }
    default:
      return { field: 'action', message: 'must be approve, edit or revise' };
  }
}
