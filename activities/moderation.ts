/**
 * Content moderation for a young-adult audience: the prompt before anything is
 * generated, each chapter before it is stored, each image prompt before it is drawn.
 *
 * With OPENAI_API_KEY (or OPENAI_BASE_URL) set, the server's moderation endpoint decides (SDK
 * retries off: Temporal owns retries). Without either, a short list of local rules does,
 * and so it does for an OpenAI-compatible server that has no moderation endpoint (Ollama,
 * llama.cpp's server, LM Studio and vLLM answer /v1/moderations with 404): the first such
 * answer is logged once and every later check of that server goes to the rules. The rules
 * are deliberately narrow: they catch the few things no book for this audience
 * may contain (sexual content involving minors, instructions for self-harm or
 * suicide, instructions for making weapons), not dark themes in general — a story
 * may mention loss or danger.
 */
import OpenAI from 'openai';
import { classified } from './providers/errors';
import { NO_KEY } from './providers/openai-text';
import { createLogger } from '../lib/logger';

export interface ModerationResult {
  flagged: boolean;
  /** Names of the categories that matched (OpenAI's category names, or the local rule's). */
  categories: string[];
  source: 'openai' | 'local';
}

export type Moderator = (text: string, signal?: AbortSignal) => Promise<ModerationResult>;

// Unicode-aware word boundaries and separators (\b and \W only know ASCII letters).
const B = '(?<![\\p{L}\\p{N}])';
const E = '(?![\\p{L}\\p{N}])';
const SEP = '[^\\p{L}\\p{N}]+';

/** Two word groups within `gap` words of each other, in either order. */
const near = (a: string, b: string, gap = 4) => {
  const span = `(?:${SEP}[\\p{L}\\p{N}]+){0,${gap}}?${SEP}`;
  return new RegExp(`${B}(?:${a})${E}${span}${B}(?:${b})${E}|${B}(?:${b})${E}${span}${B}(?:${a})${E}`, 'iu');
};

const MINOR = 'child|children|kid|kids|minor|minors|underage|preteen|pre-teen|toddler|schoolgirl|schoolboy|\\d{1,2}[- ]year[- ]old';
const SEXUAL = 'sex|sexual|sexually|nude|naked|porn|pornographic|erotic|explicit';
const HOW_TO = 'how to|ways to|instructions|step[- ]by[- ]step|guide to|best way to|teach(?:es)? (?:you|me) to';
const SELF_HARM = 'kill (?:yourself|myself|themselves)|suicide|self[- ]harm|cut (?:yourself|myself)|overdose|hang (?:yourself|myself)';
const WEAPON = 'bomb|pipe bomb|explosive|explosives|napalm|nerve gas|ghost gun';
const MAKE = 'make|build|assemble|cook|synthesi[sz]e';

/** The local rules: category → pattern. Unicode-aware, case-insensitive, after NFKC normalisation. */
export const LOCAL_RULES: ReadonlyArray<{ category: string; pattern: RegExp }> = [
  { category: 'sexual/minors', pattern: near(MINOR, SEXUAL) },
  { category: 'self-harm/instructions', pattern: near(HOW_TO, SELF_HARM) },
  { category: 'violence/weapons-instructions', pattern: new RegExp(`${B}(?:${HOW_TO})(?:${SEP}[\\p{L}]+){0,2}?${SEP}(?:${MAKE})${SEP}(?:(?:a|an|the|your own)${SEP})?(?:${WEAPON})${E}`, 'iu') },
];

/** Folds look-alike forms (full-width letters, ligatures, combining accents) so the rules see plain words. */
function normalise(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').normalize('NFKC').replace(/[\u200b-\u200d\ufeff]/g, '');
}

export function moderateLocally(text: string): ModerationResult {
  const plain = normalise(text);
  const categories = LOCAL_RULES.filter((r) => r.pattern.test(plain)).map((r) => r.category);
  return { flagged: categories.length > 0, categories, source: 'local' };
}

/** Base URLs whose server has no moderation endpoint, for every moderator of this process. */
const withoutModeration = new Set<string>();

/** How servers say they have no such endpoint: not found, method not allowed, not implemented. */
function noEndpoint(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return status === 404 || status === 405 || status === 501;
}

export function createOpenAIModerator(opts: {
  /** Absent: a local server that needs no key. */
  apiKey?: string;
  baseURL?: string;
  model?: string;
  timeoutMs?: number;
  /** Told once per server that has no moderation endpoint (default: a warning in the log). */
  onNotice?: (message: string) => void;
}): Moderator {
  const client = new OpenAI({ apiKey: opts.apiKey ?? NO_KEY, baseURL: opts.baseURL, maxRetries: 0, timeout: opts.timeoutMs ?? 30_000 });
  const model = opts.model ?? 'omni-moderation-latest';
  const server = opts.baseURL ?? 'https://api.openai.com/v1';
  const notice = opts.onNotice ?? ((message: string) => createLogger('moderation').warn(message));
  return async (text, signal) => {
    if (withoutModeration.has(server)) return moderateLocally(text);
    const res = await classified('openai', signal, async () => {
      try {
        return await client.moderations.create({ model, input: text }, { signal });
      } catch (err) {
        if (!noEndpoint(err)) throw err;
        return undefined;
      }
    });
    if (!res) {
      if (!withoutModeration.has(server)) {
        withoutModeration.add(server);
        notice(`${server} has no moderation endpoint (/moderations answered 404/405/501): moderation uses the local rules`);
      }
      return moderateLocally(text);
    }
    const categories = new Set<string>();
    let flagged = false;
    for (const r of res.results) {
      flagged ||= r.flagged;
      for (const [name, on] of Object.entries(r.categories ?? {})) if (on) categories.add(name);
    }
    return { flagged, categories: [...categories], source: 'openai' };
  };
}

/**
 * The server's moderation when a key or an OpenAI-compatible server is given (falling back
 * to the local rules where it has none), else the local rules.
 */
export function createModerator(opts: { openaiApiKey?: string; openaiBaseUrl?: string; timeoutMs?: number } = {}): Moderator {
  if (opts.openaiApiKey || opts.openaiBaseUrl) {
    return createOpenAIModerator({ apiKey: opts.openaiApiKey, baseURL: opts.openaiBaseUrl, timeoutMs: opts.timeoutMs });
  }
  return async (text) => moderateLocally(text);
}

let fromEnv: Moderator | undefined;

/**
 * `moderateText(text)`: the moderator of this process's environment (OPENAI_API_KEY,
 * OPENAI_BASE_URL), built once. OPENAI_BASE_URL alone is a local server: its own
 * moderation endpoint when it has one, else the local rules.
 */
export function moderateText(text: string, signal?: AbortSignal): Promise<ModerationResult> {
  fromEnv ??= createModerator({
    openaiApiKey: process.env.OPENAI_API_KEY?.trim() || undefined,
    openaiBaseUrl: process.env.OPENAI_BASE_URL?.trim() || undefined,
  });
  return fromEnv(text, signal);
}
