/**
 * A text provider over any OpenAI-compatible chat-completions client: the
 * `openai` SDK and `groq-sdk` share the request and stream shapes, so both
 * providers are this module with a different client and name.
 *
 * No retries here: a failure is classified (errors.ts) and Temporal retries the
 * activity. The one exception is the outline repair round, which fixes the
 * model's output rather than retrying a failed call.
 */
import { z } from 'zod';
import { ApplicationFailure } from '@temporalio/common';
import type { ChapterRequest, ChapterResult, Outline, OutlineResult, TextProvider } from './types';
import { classified, notePartialSpend, ProviderErrorTypes } from './errors';
import type { BookBrief } from '../../core/brief';
import type { Usage } from '../../core/pricing';
import { languageName } from '../../core/language';
import { lenientPalette } from './local-plan';

/** The part of the openai / groq-sdk clients this provider uses. */
export interface ChatClient {
  chat: { completions: { create(body: any, options?: any): Promise<any> } };
}

export interface ChatTextOptions {
  name: string;
  client: ChatClient;
  model: string;
  temperature?: number;
  /** Upper bound of completion tokens per call. */
  maxTokens?: number;
  /** Per-request timeout; also the longest silence tolerated inside a stream. */
  timeoutMs?: number;
  /** OpenAI reports streamed usage only when asked (`stream_options`); Groq sends `x_groq.usage` unasked. */
  streamUsageOption?: boolean;
  /**
   * Where the client sends its requests (OPENAI_BASE_URL): what the server turned
   * out to support is remembered under it, for every provider of this process.
   */
  baseURL?: string;
  /** Told once when the server refused a response format and the next one is used. */
  onNotice?: (message: string) => void;
}

/**
 * How the outline asks for JSON, best first: a strict JSON schema (OpenAI, Groq,
 * vLLM, recent Ollama and LM Studio), JSON mode (`json_object`: llama.cpp's server
 * and older OpenAI-compatible servers), or the prompt alone. Whatever the server
 * answers is checked with zod and gets one repair round.
 */
export const RESPONSE_FORMATS = ['json_schema', 'json_object', 'prompt'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

/**
 * An HTTP 400/422 whose message names one of `fields`: how OpenAI-compatible servers
 * refuse a request field they lack ("response_format type 'json_schema' is not supported",
 * LM Studio's "'response_format.type' must be 'json_schema'", a validation error naming
 * the field). Any other 400 is the request's fault and stays one (BadInput).
 */
function refusedField(err: unknown, fields: RegExp): boolean {
  const e = err as { status?: unknown; message?: unknown; error?: unknown } | null;
  if (e?.status !== 400 && e?.status !== 422) return false;
  let said = String(e.message ?? '');
  try {
    said += ` ${JSON.stringify(e.error ?? '')}`;
  } catch {
    // An error body that cannot be written out says nothing more.
  }
  return fields.test(said);
}
const refusedFormat = (err: unknown) => refusedField(err, /response_format|json_schema|json_object|structured output|guided|grammar/i);
/** Servers older than OpenAI's streamed usage. */
const refusedStreamOptions = (err: unknown) => refusedField(err, /stream_options|include_usage/i);

/** Per server (base URL and model): the first response format it accepted. */
const acceptedFormat = new Map<string, ResponseFormat>();
/** Servers (base URL and model) that refused `stream_options`: their streams go without it. */
const withoutStreamOptions = new Set<string>();

type Message = { role: 'system' | 'user' | 'assistant'; content: string };

const HEX = /^#[0-9a-fA-F]{6}$/;

/** The outline as the model must write it; `index` is checked against the position. */
function outlineSchema(chapterCount: number) {
  return z.object({
    title: z.string().trim().min(1).max(200),
    logline: z.string().trim().min(1).max(600),
    characters: z
      .array(
        z.object({
          name: z.string().trim().min(1),
          look: z.string().trim().min(1),
          personality: z.string().trim().min(1),
        }),
      )
      .min(1)
      .max(12),
    setting: z.string().trim().min(1),
    style: z.string().trim().min(1),
    palette: z.tuple([z.string().regex(HEX, 'a #rrggbb colour'), z.string().regex(HEX, 'a #rrggbb colour')]),
    chapters: z
      .array(
        z.object({
          index: z.number().int(),
          title: z.string().trim().min(1).max(200),
          summary: z.string().trim().min(1),
          targetWords: z.number().int().min(100).max(5000),
        }),
      )
      .length(chapterCount, `exactly ${chapterCount} chapters are required`)
      .refine((cs) => cs.every((c, i) => c.index === i + 1), 'chapter indexes must be 1, 2, 3, … in order'),
  });
}

/** The same shape as a JSON schema for `response_format` (strict structured output). */
function outlineJsonSchema(chapterCount: number) {
  const str = { type: 'string' };
  const obj = (properties: Record<string, unknown>) => ({
    type: 'object',
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  });
  return {
    name: 'outline',
    strict: true,
    schema: obj({
      title: str,
      logline: str,
      characters: { type: 'array', items: obj({ name: str, look: str, personality: str }) },
      setting: str,
      style: str,
      palette: { type: 'array', items: { type: 'string', pattern: HEX.source }, minItems: 2, maxItems: 2 },
      chapters: {
        type: 'array',
        minItems: chapterCount,
        maxItems: chapterCount,
        items: obj({ index: { type: 'integer' }, title: str, summary: str, targetWords: { type: 'integer' } }),
      },
    }),
  };
}

function briefLines(brief: BookBrief): string {
  const lines = [`Prompt: ${brief.prompt}`, `Chapters: ${brief.chapterCount}`];
  const opt: Array<[string, string | undefined]> = [
    ['Era / genre', brief.era],
    ['Illustration style', brief.style],
    ['Mood', brief.mood],
    ['Main character', brief.characterName],
    ['Archetype', brief.archetype],
    ['Place', brief.place],
    ['Language (BCP 47)', `${brief.language ?? 'en'} (${languageName(brief.language)})`],
  ];
  for (const [k, v] of opt) if (v) lines.push(`${k}: ${v}`);
  return lines.join('\n');
}

const SYSTEM =
  'You are an author of illustrated books. You write vivid, coherent, original prose ' +
  'and keep characters, places and style consistent across a whole book.';

/** Ends of complete sentences: terminator, optional closing quotes/brackets, then whitespace. */
const SENTENCE_END = /[.!?…]['"”’)\]]*(?=\s)/g;

function lastSentenceEnd(text: string): number {
  let end = -1;
  for (const m of text.matchAll(SENTENCE_END)) end = m.index! + m[0].length;
  return end;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function toParagraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

/** Rough token count when the provider reports none (about four characters a token). */
const estimateTokens = (text: string) => Math.ceil(text.length / 4);

/**
 * Passes streamed text on a whole word at a time: everything up to the last
 * whitespace (in Chinese and Japanese, the last character) goes on at once, the
 * word still being written is held back. A stream
 * cut short loses only that unfinished word, so nothing the listener saw has to be
 * taken back, and what was passed on is exactly the result. (Holding whole
 * sentences back instead kept readers waiting for the model to finish each one:
 * about a second per sentence at the usual 20-40 tokens a second.)
 */
export class WordGate {
  emitted = '';
  private held = '';
  /** Set for a continuation: its first text joins the words before it (see `continueWith`). */
  private joining: string | undefined;
  constructor(private readonly onText?: (delta: string) => void) {}
  push(delta: string) {
    if (this.joining !== undefined) {
      // The continuation's own leading whitespace is replaced by the separator.
      delta = delta.replace(/^\s+/, '');
      if (!delta) return;
      this.held = this.joining + delta;
      this.joining = undefined;
    } else {
      this.held += delta;
    }
    const end = lastWhitespaceEnd(this.held);
    if (end > 0) this.emit(end);
  }
  /** The model finished on its own: its last words are the end of the text. */
  flush() {
    this.joining = undefined;
    this.emit(this.held.length);
  }
  /** The text was cut: forget the unfinished word. */
  dropTail() {
    this.held = '';
  }
  /**
   * The next stream continues this text: after a complete sentence as a new paragraph,
   * otherwise mid-sentence, one space after the last word.
   */
  continueWith() {
    const text = this.emitted.trimEnd();
    if (!text) return;
    const last = text.at(-1)!;
    this.joining = /\n\s*\n\s*$/.test(this.emitted)
      ? '' // already at a paragraph break
      : lastSentenceEnd(`${text} `) === text.length || /[。！？]/.test(last)
        ? '\n\n'
        : /\s$/.test(this.emitted) || UNSPACED.test(last)
          ? ''
          : ' ';
  }
  private emit(n: number) {
    const out = this.held.slice(0, n);
    this.held = this.held.slice(n);
    if (!out) return;
    this.emitted += out;
    this.onText?.(out);
  }
}

/**
 * Scripts written without spaces between words (Chinese, Japanese): each character is a
 * place where text may stop, as a space is elsewhere. CJK punctuation, kana, ideographs
 * and fullwidth forms; Korean puts spaces between words.
 */
const UNSPACED = /[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/;

/** The index just past the last whitespace (or unspaced-script character) in `text`, or -1. */
function lastWhitespaceEnd(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) {
    if (/\s/.test(text[i]) || UNSPACED.test(text[i])) return i + 1;
  }
  return -1;
}

export function createChatTextProvider(opts: ChatTextOptions): TextProvider {
  const { name, client, model } = opts;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const maxTokens = opts.maxTokens ?? 4096;
  const temperature = opts.temperature ?? 0.8;

  const usageOf = (u: any): Usage | undefined =>
    u && (typeof u.prompt_tokens === 'number' || typeof u.completion_tokens === 'number')
      ? { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens }
      : undefined;
  const addUsage = (a: Usage, b: Usage): Usage => ({
    inputTokens: (a.inputTokens ?? 0) + (b.inputTokens ?? 0),
    outputTokens: (a.outputTokens ?? 0) + (b.outputTokens ?? 0),
  });

  const formatKey = `${opts.baseURL ?? name}|${model}`;

  /**
   * One non-streamed JSON completion; returns its text. A server that refuses the
   * response format (HTTP 400/422) is asked again with the next one, and the one it
   * took is remembered for this server, so later outlines go straight to it.
   */
  async function complete(messages: Message[], chapterCount: number, signal?: AbortSignal) {
    let at = RESPONSE_FORMATS.indexOf(acceptedFormat.get(formatKey) ?? 'json_schema');
    let res: any;
    for (;;) {
      const format = RESPONSE_FORMATS[at];
      const body: Record<string, unknown> = { model, messages, temperature, max_completion_tokens: maxTokens };
      if (format === 'json_schema') body.response_format = { type: 'json_schema', json_schema: outlineJsonSchema(chapterCount) };
      if (format === 'json_object') body.response_format = { type: 'json_object' };
      try {
        res = await client.chat.completions.create(body, { signal, timeout: timeoutMs });
      } catch (err) {
        if (format === 'prompt' || !refusedFormat(err) || signal?.aborted) throw err;
        const next = RESPONSE_FORMATS[at + 1];
        opts.onNotice?.(
          `${name} (${model}${opts.baseURL ? ` at ${opts.baseURL}` : ''}) refused response_format ${format} ` +
            `(HTTP ${(err as { status: number }).status}): asking with ${next === 'prompt' ? 'the prompt alone' : next} instead`,
        );
        at++;
        continue;
      }
      if (acceptedFormat.get(formatKey) !== format) acceptedFormat.set(formatKey, format);
      break;
    }
    const choice = res?.choices?.[0];
    if (choice?.message?.refusal || choice?.finish_reason === 'content_filter') {
      throw ApplicationFailure.create({
        message: `${name}: refused to write the outline: ${choice?.message?.refusal ?? 'content filter'}`,
        type: ProviderErrorTypes.ContentRefused,
        nonRetryable: true,
        details: [{ provider: name }],
      });
    }
    const content = String(choice?.message?.content ?? '');
    const usage = usageOf(res?.usage) ?? {
      inputTokens: estimateTokens(messages.map((m) => m.content).join('\n')),
      outputTokens: estimateTokens(content),
    };
    return { content, usage };
  }

  /**
   * The outline in a reply, lenient where the meaning is plain: JSON fenced in markdown
   * or wrapped in a sentence or two (as models without structured output answer),
   * chapters numbered wrongly (renumbered by position), a palette that is not two
   * #rrggbb colours (the era's instead). Only missing or unreadable content is a problem,
   * for the repair round.
   */
  function check(content: string, chapterCount: number, era: string | undefined): { outline?: Outline; problems?: string } {
    let json: unknown;
    const unfenced = content.replace(/^\s*```(?:json)?\s*|\s*```\s*$/g, '');
    try {
      json = JSON.parse(unfenced);
    } catch (err) {
      const from = unfenced.indexOf('{');
      const to = unfenced.lastIndexOf('}');
      try {
        if (from < 0 || to <= from) throw err;
        json = JSON.parse(unfenced.slice(from, to + 1));
      } catch {
        return { problems: `The reply is not valid JSON (${(err as Error).message}).` };
      }
    }
    if (json && typeof json === 'object') {
      const o = json as { chapters?: unknown; palette?: unknown };
      if (Array.isArray(o.chapters)) o.chapters = o.chapters.map((c, i) => (c && typeof c === 'object' ? { ...c, index: i + 1 } : c));
      o.palette = lenientPalette(o.palette, era);
    }
    const parsed = outlineSchema(chapterCount).safeParse(json);
    if (parsed.success) return { outline: parsed.data as Outline };
    return { problems: z.prettifyError(parsed.error) };
  }

  async function writeOutline(brief: BookBrief, signal?: AbortSignal): Promise<OutlineResult> {
    const n = brief.chapterCount;
    const messages: Message[] = [
      { role: 'system', content: SYSTEM },
      {
        role: 'user',
        content:
          `Plan an illustrated book for this brief.\n${briefLines(brief)}\n\n` +
          `Answer with JSON only, matching the given schema: a title, a one-sentence logline, ` +
          `the main characters (name, how they look — enough for an illustrator —, personality), ` +
          `the setting, one illustration style carried into every picture, a palette of two ` +
          `#rrggbb colours, and exactly ${n} chapters numbered 1 to ${n}, each with a title, a ` +
          `two- or three-sentence summary and targetWords between 400 and 1200. Write every ` +
          `text in the book's language, ${languageName(brief.language)}.\n` +
          // Servers without structured output only have this to go by.
          `The JSON's keys: {"title", "logline", "characters": [{"name", "look", "personality"}], ` +
          `"setting", "style", "palette": ["#rrggbb", "#rrggbb"], "chapters": [{"index", "title", ` +
          `"summary", "targetWords"}]}.`,
      },
    ];
    let { content, usage } = await complete(messages, n, signal);
    let verdict = check(content, n, brief.era);
    if (!verdict.outline) {
      // One repair round: show the model what was wrong; a second bad answer is final.
      messages.push(
        { role: 'assistant', content },
        {
          role: 'user',
          content:
            `That outline is not valid:\n${verdict.problems}\n\n` +
            `Reply with the corrected JSON only, with exactly ${n} chapters numbered 1 to ${n}.`,
        },
      );
      const second = await complete(messages, n, signal);
      usage = addUsage(usage, second.usage);
      verdict = check(second.content, n, brief.era);
      if (!verdict.outline) {
        throw ApplicationFailure.create({
          message: `${name} (${model}) wrote an invalid outline twice, even after a repair round: ${verdict.problems}`,
          type: ProviderErrorTypes.InvalidOutline,
          nonRetryable: true,
          details: [{ provider: name, model }],
        });
      }
    }
    return { outline: verdict.outline, usage, model };
  }

  /**
   * Streams one completion into the gate. Returns why it stopped and the usage
   * the final chunk reported (if any). A stream silent for `timeoutMs` is
   * aborted: the SDK's timeout covers only the wait for the response headers.
   */
  async function stream(messages: Message[], gate: WordGate, signal?: AbortSignal, progress?: { text: string }) {
    const idle = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new Error('stream idle')), timeoutMs);
    };
    const silent = () =>
      ApplicationFailure.create({
        message: `${name}: the stream was silent for ${timeoutMs} ms`,
        type: ProviderErrorTypes.ProviderTimeout,
        details: [{ provider: name }],
      });
    const combined = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
    let finish: string | null = null;
    let usage: Usage | undefined;
    let text = '';
    arm();
    try {
      const body: Record<string, unknown> = {
        model,
        messages,
        temperature,
        max_completion_tokens: maxTokens,
        stream: true,
      };
      const askUsage = opts.streamUsageOption && !withoutStreamOptions.has(formatKey);
      if (askUsage) body.stream_options = { include_usage: true };
      let chunks: unknown;
      try {
        chunks = await client.chat.completions.create(body, { signal: combined, timeout: timeoutMs });
      } catch (err) {
        if (!askUsage || !refusedStreamOptions(err) || signal?.aborted) throw err;
        // A server that does not know `stream_options`: asked without it (its tokens are estimated).
        withoutStreamOptions.add(formatKey);
        opts.onNotice?.(`${name} (${model}${opts.baseURL ? ` at ${opts.baseURL}` : ''}) refused stream_options: streaming without it, tokens estimated`);
        delete body.stream_options;
        chunks = await client.chat.completions.create(body, { signal: combined, timeout: timeoutMs });
      }
      for await (const chunk of chunks as AsyncIterable<any>) {
        arm();
        usage = usageOf(chunk?.usage) ?? usageOf(chunk?.x_groq?.usage) ?? usage;
        const choice = chunk?.choices?.[0];
        if (!choice) continue;
        const delta = choice.delta?.content;
        if (typeof delta === 'string' && delta) {
          text += delta;
          if (progress) progress.text = text;
          gate.push(delta);
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      // The SDK ends the iteration quietly when aborted: tell an idle stream and a cancellation apart here.
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      if (idle.signal.aborted) throw silent();
    } catch (err) {
      if (idle.signal.aborted && !signal?.aborted) throw silent();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (finish === null) {
      // The connection closed before the model said it was done: the text may be cut anywhere.
      throw ApplicationFailure.create({
        message: `${name}: the stream ended without a finish reason (connection cut?)`,
        type: ProviderErrorTypes.ProviderConnection,
        details: [{ provider: name }],
      });
    }
    if (finish === 'content_filter') {
      throw ApplicationFailure.create({
        message: `${name}: the chapter was stopped by the content filter`,
        type: ProviderErrorTypes.ContentRefused,
        nonRetryable: true,
        details: [{ provider: name }],
      });
    }
    return {
      finish,
      text,
      usage: usage ?? {
        inputTokens: estimateTokens(messages.map((m) => m.content).join('\n')),
        outputTokens: estimateTokens(text),
      },
    };
  }

  async function writeChapter(
    req: ChapterRequest,
    onText?: (delta: string) => void,
    signal?: AbortSignal,
  ): Promise<ChapterResult> {
    const { brief, outline, chapter, previousSummaries } = req;
    const target = chapter.targetWords;
    const bible = [
      `Book: "${outline.title}" — ${outline.logline}`,
      `Setting: ${outline.setting}`,
      `Style: ${outline.style}`,
      'Characters:',
      ...outline.characters.map((c) => `- ${c.name}: ${c.look}; ${c.personality}`),
      'Chapters:',
      ...outline.chapters.map((c) => `${c.index}. ${c.title} — ${c.summary}`),
    ].join('\n');
    const before =
      (previousSummaries.length
        ? `What happened so far:\n${previousSummaries.map((s, i) => `${i + 1}. ${s}`).join('\n')}`
        : 'This is the first chapter.') +
      (req.previousEnding
        ? `\n\nThe previous chapter, as it was written, ends like this:\n<<<\n${req.previousEnding}\n>>>\n` +
          'Pick the story up from there: keep what it established (who is where, what was said and found).'
        : '');
    const messages: Message[] = [
      { role: 'system', content: `${SYSTEM}\n\n${bible}` },
      {
        role: 'user',
        content:
          `${before}\n\nWrite chapter ${chapter.index}, "${chapter.title}": ${chapter.summary}\n` +
          `Write about ${target} words in the book's language, ${languageName(brief.language)} (${brief.language ?? 'en'}). ` +
          `Plain prose only: no title, no headings, no markdown; paragraphs separated by a blank ` +
          `line; end with a complete sentence.` +
          (req.revision
            ? `\nThis is rewrite ${req.revision.number} of this chapter.` +
              (req.revision.feedback ? ` The reader asked: ${req.revision.feedback}` : ' Tell it afresh.')
            : ''),
      },
    ];
    const gate = new WordGate(onText);
    // What the calls so far cost, for a caller that cuts the chapter short (a moderation refusal).
    let spent: Usage = {};
    let current = { messages, text: '' };
    try {
      return await writeWithContinuation();
    } catch (err) {
      if (signal?.aborted) {
        const partial = { inputTokens: estimateTokens(current.messages.map((m) => m.content).join('\n')), outputTokens: estimateTokens(current.text) };
        notePartialSpend(signal.reason, { provider: name, model, usage: addUsage(spent, partial) });
      }
      throw err;
    }

    async function writeWithContinuation(): Promise<ChapterResult> {
      const first = await stream(messages, gate, signal, current);
      let usage = first.usage;
      spent = usage;
      const cut = first.finish === 'length';
      if (cut) gate.dropTail();
      else gate.flush();

      if (cut || countWords(gate.emitted) < 0.8 * target) {
        // Continue once from the last whole word (mid-sentence when the model was cut off).
        const have = countWords(gate.emitted);
        const ask: Message = {
          role: 'user',
          content:
            `Continue the chapter from exactly where it stops (mid-sentence if it stops there), ` +
            `without repeating anything. ` +
            `Write about ${Math.max(100, target - have)} more words and bring the chapter to a ` +
            `close with a complete sentence. Same rules: plain prose, blank lines between paragraphs.`,
        };
        // With nothing usable yet (cut before the first whole word) the chapter is simply asked for again.
        const cont: Message[] = gate.emitted.trim()
          ? [...messages, { role: 'assistant', content: gate.emitted.trimEnd() }, ask]
          : messages;
        gate.continueWith();
        current = { messages: cont, text: '' };
        const second = await stream(cont, gate, signal, current);
        usage = addUsage(usage, second.usage);
        if (second.finish === 'length') gate.dropTail();
        else gate.flush();
      }
      const paragraphs = toParagraphs(gate.emitted);
      if (paragraphs.length === 0) {
        throw ApplicationFailure.create({
          message: `${name} (${model}) wrote no text for chapter ${chapter.index}`,
          type: ProviderErrorTypes.ProviderError,
          details: [{ provider: name, model }],
        });
      }
      return { paragraphs, usage, model };
    }
  }

  return {
    name,
    offline: false,
    writeOutline: (brief, signal) => classified(name, signal, () => writeOutline(brief, signal)),
    writeChapter: (req, onText, signal) => classified(name, signal, () => writeChapter(req, onText, signal)),
  };
}
