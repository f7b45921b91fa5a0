/**
 * The tools a book was made with, in words for its copyright page ("Text written with
 * OpenAI gpt-4.1-mini; pictures drawn with Runware runware:101@1."), from the calls the
 * cost ledger recorded for it.
 */

/** How each provider is named to a reader. */
const PROVIDER_NAMES: Record<string, string> = {
  openai: 'OpenAI',
  groq: 'Groq',
  runware: 'Runware',
  local: 'a local language model',
  offline: "the engine's offline",
};

export interface CreditedCall {
  /** The book's step: outline, chapter, illustration, cover. */
  step: string;
  provider: string;
  model: string;
}

const TEXT_STEPS = new Set(['outline', 'chapter']);

/** A tool as a reader reads it: "OpenAI gpt-4.1-mini", "the engine's offline writer". */
function tool(provider: string, model: string, offlineRole: 'writer' | 'painter'): string {
  if (provider === 'offline') return `${PROVIDER_NAMES.offline} ${offlineRole}`;
  const name = PROVIDER_NAMES[provider] ?? provider;
  return model && model !== provider ? `${name} ${model}` : name;
}

const list = (items: string[]) =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;

/**
 * One sentence naming who wrote the text and who drew the pictures; `fallback` (provider
 * names, e.g. of a book made from a story, whose text was no call of its own) fills a side
 * the ledger has nothing for.
 */
export function creditLine(calls: CreditedCall[], fallback: { text?: string[]; pictures?: string[] } = {}): string {
  const unique = (xs: string[]) => [...new Set(xs)];
  const text = unique(calls.filter((c) => TEXT_STEPS.has(c.step)).map((c) => tool(c.provider, c.model, 'writer')));
  const pictures = unique(calls.filter((c) => !TEXT_STEPS.has(c.step)).map((c) => tool(c.provider, c.model, 'painter')));
  const writers = text.length ? text : unique((fallback.text ?? []).map((p) => tool(p, '', 'writer')));
  const painters = pictures.length ? pictures : unique((fallback.pictures ?? []).map((p) => tool(p, '', 'painter')));
  const parts = [
    writers.length ? `Text written with ${list(writers)}` : '',
    painters.length ? `${writers.length ? 'pictures' : 'Pictures'} drawn with ${list(painters)}` : '',
  ].filter(Boolean);
  return parts.length ? `${parts.join('; ')}.` : '';
}
