/**
 * The language a book's text is really in, against the one it was asked in. A writer
 * that cannot write the asked language (the offline writer writes English only; the
 * small local model mostly writes English) still writes a book; the book records the
 * language of its text in its row (`metadata.textLanguage`) with a notice in words for
 * the status, and the files are set in that language (files.ts reads it from the text).
 */
import { languageName, sameLanguage, textLanguage } from '../core/language';
import type { ActivityDeps } from './deps';

/** The writers that write only some languages, by provider name. */
const WRITER_LANGUAGES: Record<string, readonly string[]> = { offline: ['en'] };

/** What the status says when the text is not in the language asked for. */
export function languageNotice(writer: string, requested: string, actual: string): string {
  const asked = languageName(requested);
  const got = languageName(actual);
  const only = WRITER_LANGUAGES[writer];
  return only && !only.some((l) => sameLanguage(l, requested))
    ? `The ${writer} writer writes ${only.map(languageName).join(', ')} only; the book is set in ${got} rather than ${asked}.`
    : `The ${writer} writer wrote this book in ${got} rather than ${asked}; the book is set in ${got}.`;
}

/**
 * Checks freshly written text against the book's language; when they differ, the row
 * records the text's language and the notice. Returns the text's language.
 */
export async function noteTextLanguage(
  deps: Pick<ActivityDeps, 'repos'>,
  ebookId: string,
  writer: string,
  requested: string | undefined,
  text: string,
): Promise<string> {
  const asked = requested ?? 'en';
  const actual = textLanguage(asked, text);
  if (!sameLanguage(actual, asked)) {
    await deps.repos.ebooks.mergeMetadata(ebookId, { textLanguage: actual, notices: [languageNotice(writer, asked, actual)] });
  }
  return actual;
}
