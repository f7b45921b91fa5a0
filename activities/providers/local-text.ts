/**
 * The `local` text provider: a small language model running inside the worker
 * (local-model.ts), behind the same interface as the cloud providers, so the
 * moderated stream, the word gate, `chapter.restart` on retries, the ledger and
 * the failover's heartbeats work unchanged.
 *
 * The model is a base model (it continues text): the plan comes from the brief
 * with a few fields filled by the model (local-plan.ts), and chapters are
 * written by continuing a crafted opening, stopped at the first sentence end
 * past the chapter's target length.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ChapterRequest, ChapterResult, OutlineResult, TextProvider } from './types';
import { WordGate } from './chat-text';
import { classified, notePartialSpend, ProviderErrorTypes } from './errors';
import { currentAttempt } from './failover';
import { LocalModel, ModelMissingError, type GenerateOptions, type LocalModelOptions } from './local-model';
import {
  chapterOpening,
  lenientPalette,
  mergeModelFields,
  modelFieldsJsonSchema,
  parseModelFields,
  planFromBrief,
  planPrompt,
} from './local-plan';
import { hash32 } from './offline-text';
import type { BookBrief } from '../../core/brief';
import type { Usage } from '../../core/pricing';

export interface LocalTextOptions extends LocalModelOptions {
  /** Sampling temperature of chapters (default 0.8). */
  temperature?: number;
  /**
   * Constrain the model's plan fields with a JSON-schema grammar. Off by default:
   * on this 270M model (262k-token vocabulary) grammar sampling ran at ~1-5
   * tokens/s on 2 cores against ~35 unconstrained, so the plan is parsed and
   * checked with zod instead, falling back to the brief's plan field by field.
   */
  outlineGrammar?: boolean;
  /**
   * The model fills the plan's title, hero and chapter titles (LOCAL_MODEL_PLAN=true). Off by
   * default: that call came before any chapter could start (10-45 s to the first words, measured),
   * while the engine's plan from the brief alone takes no time, names the prompt's people and
   * things in every summary, and leaves the model to what it does well, continuing prose.
   */
  modelPlan?: boolean;
  /** Words a chapter aims at (default LOCAL_TARGET_WORDS): the plan's `targetWords`. */
  chapterWords?: number;
  /** Share a loaded model (tests, the benchmark); otherwise the provider owns one. */
  model?: LocalModel;
}

export type LocalTextProvider = TextProvider & {
  readonly model: LocalModel;
  /** Loads the model now (a worker may warm it up before the first book). */
  warmUp(): Promise<void>;
  /** Stops generations in flight and frees the model (worker shutdown). */
  dispose(): Promise<void>;
};

/** The ledger's model for a plan the engine made without the model (no tokens spent). */
export const ENGINE_PLAN = 'engine-plan';

/** Ends of complete sentences: terminator, optional closing quotes/brackets, then whitespace or the end. */
const SENTENCE_END = /[.!?…]['"”’)\]]*(?=\s)/g;

function lastSentenceEnd(text: string): number {
  let end = -1;
  for (const m of text.matchAll(SENTENCE_END)) end = m.index! + m[0].length;
  return end;
}

/** Words that begin headings; as single tokens they are never sampled in a chapter. */
const BANNED = ['Chapter', ' Chapter', 'CHAPTER', ' CHAPTER', 'Epilogue', ' Epilogue'];

/** A line that starts another chapter or the book's back matter. */
const HEADING = /\n[ \t]*(?:chapter\b|part [ivx\d]+\b|#|\*\*|the end\b|epilogue\b|\d+\.\s*$)/i;

const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length;

function toParagraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

/** Sampling shared by chapters: the repeat penalty keeps a small model out of loops. */
const PROSE: Omit<GenerateOptions, 'onTextChunk'> = {
  topK: 40,
  topP: 0.92,
  minP: 0.05,
  repeatPenalty: { penalty: 1.15, frequencyPenalty: 0.05, presencePenalty: 0.05, lastTokens: 192, penalizeNewLine: false },
  // A base model that runs on into the next chapter or a book's back matter is stopped there.
  customStopTriggers: ['\nChapter ', '\nCHAPTER', '\n#', '\nTHE END', '\nThe End'],
};

export function createLocalTextProvider(opts: LocalTextOptions): LocalTextProvider {
  const model = opts.model ?? new LocalModel(opts);
  const name = 'local';
  const modelName = () => model.modelPath.split('/').at(-1)!.replace(/\.gguf$/i, '');
  const temperature = opts.temperature ?? 0.8;

  /** A model that is not installed is no fault of the request: the failover moves on. */
  async function loaded() {
    try {
      await model.load();
    } catch (err) {
      if (err instanceof ModelMissingError) {
        throw ApplicationFailure.create({
          message: `${name}: ${err.message}`,
          type: ProviderErrorTypes.ProviderUnavailable,
          nonRetryable: true,
          details: [{ provider: name }],
        });
      }
      throw err;
    }
  }

  /** The engine's plan from the brief, with no model call: the first chapter can start at once. */
  function engineOutline(brief: BookBrief): OutlineResult {
    if (!LocalModel.installed(model.modelPath)) {
      // As a load would say: the failover moves on to the next writer for the whole book.
      throw ApplicationFailure.create({
        message: `${name}: ${new ModelMissingError(model.modelPath).message}`,
        type: ProviderErrorTypes.ProviderUnavailable,
        nonRetryable: true,
        details: [{ provider: name }],
      });
    }
    // A worker that did not warm the model up starts loading it now, while the outline is stored.
    model.load().catch(() => undefined);
    const outline = planFromBrief(brief);
    if (opts.chapterWords) for (const c of outline.chapters) c.targetWords = opts.chapterWords;
    outline.palette = lenientPalette(outline.palette, brief.era);
    return { outline, usage: { inputTokens: 0, outputTokens: 0 }, model: ENGINE_PLAN };
  }

  async function writeOutline(brief: BookBrief, signal?: AbortSignal): Promise<OutlineResult> {
    signal?.throwIfAborted();
    if (!opts.modelPlan) return engineOutline(brief);
    await loaded();
    const plan = planFromBrief(brief);
    const grammar = opts.outlineGrammar ? await model.grammarFor(modelFieldsJsonSchema(brief.chapterCount)) : undefined;
    const out = await model.generate(planPrompt(brief), {
      signal,
      grammar,
      maxTokens: 60 + 18 * Math.min(brief.chapterCount, 24),
      temperature: 0.7,
      topK: 40,
      topP: 0.9,
      seed: hash32(brief.prompt),
      // One plan is one line, as in the examples.
      customStopTriggers: grammar ? undefined : ['\n'],
    });
    if (out.cancelled) throw signal?.reason ?? new Error('aborted');
    const fields = parseModelFields(out.text, brief.chapterCount);
    const { outline } = mergeModelFields(plan, fields);
    if (opts.chapterWords) for (const c of outline.chapters) c.targetWords = opts.chapterWords;
    outline.palette = lenientPalette(outline.palette, brief.era);
    return { outline, usage: { inputTokens: out.inputTokens, outputTokens: out.outputTokens }, model: modelName() };
  }

  async function writeChapter(req: ChapterRequest, onText?: (delta: string) => void, signal?: AbortSignal): Promise<ChapterResult> {
    await loaded();
    const target = Math.max(60, req.chapter.targetWords || 400);
    const { prompt, primer } = chapterOpening(req);
    const gate = new WordGate(onText);
    let usage: Required<Pick<Usage, 'inputTokens' | 'outputTokens'>> = { inputTokens: 0, outputTokens: 0 };
    // A retry or a rewrite is told afresh: another seed for the same opening.
    const seed = hash32(`${req.outline.title}|${req.chapter.index}|${currentAttempt()}|${req.revision?.number ?? 0}`);

    // `text` is everything the model wrote (after the primer); `passed` how much of it went on.
    let text = primer;
    let passed = 0;
    // Past the target, text waits here until a sentence ends: then it is passed on and the model stopped.
    let overflow = '';
    let reachedTarget = false;
    let cutShort = false;
    let headingStop = false;
    const passOn = (piece: string, stop: AbortController) => {
      if (!reachedTarget && countWords(gate.emitted + piece) >= target) reachedTarget = true;
      if (!reachedTarget) return gate.push(piece);
      overflow += piece;
      const end = lastSentenceEnd(overflow);
      if (end > 0) {
        gate.push(overflow.slice(0, end));
        overflow = '';
        stop.abort();
      }
    };
    /**
     * Passes on the text written so far, except the start of a line still too
     * short to tell whether it begins a heading ("Chapter 3", "# ...", "THE END"):
     * a base model runs on into the next chapter, and that never reaches readers.
     */
    const advance = (stop: AbortController, final: boolean) => {
      const heading = HEADING.exec(text.slice(Math.max(0, passed - 1)));
      let upTo = text.length;
      if (heading) {
        upTo = Math.max(0, passed - 1) + heading.index;
        text = text.slice(0, upTo);
        headingStop = true;
        stop.abort();
      } else if (!final) {
        const nl = text.lastIndexOf('\n');
        if (nl >= passed && text.length - nl < 16) upTo = nl;
      }
      if (upTo > passed) {
        const piece = text.slice(passed, upTo);
        passed = upTo;
        passOn(piece, stop);
      }
    };
    const tokenBias = await model.banned(BANNED);
    for (let round = 0; round < 2; round++) {
      const stop = new AbortController();
      const out = await model.generate(prompt + text.slice(primer.length), {
        ...PROSE,
        signal,
        stop: stop.signal,
        temperature,
        seed: seed + round,
        tokenBias,
        // Words are ~1.3 tokens; twice the target's worth bounds a model that never ends a sentence.
        maxTokens: Math.ceil(Math.max(40, target - countWords(text)) * 2.6) + 64,
        onTextChunk(chunk) {
          if (stop.signal.aborted) return;
          text += chunk;
          advance(stop, false);
        },
      });
      usage = { inputTokens: usage.inputTokens + out.inputTokens, outputTokens: usage.outputTokens + out.outputTokens };
      if (out.cancelled) {
        notePartialSpend(signal?.reason, { provider: name, model: modelName(), usage });
        throw signal?.reason ?? new Error('aborted');
      }
      if (!stop.signal.aborted) advance(stop, true);
      if (stop.signal.aborted && !headingStop) break; // stopped at a sentence end past the target
      if (out.stopReason === 'maxTokens') {
        cutShort = true;
        break;
      }
      // The model ended (or began another chapter), even at once: well short of the target, it goes on once.
      headingStop = false;
      if (countWords(gate.emitted) >= 0.6 * target || round === 1) break;
      text = `${text.trimEnd()}\n\n`;
      passed = Math.min(passed, text.length);
      advance(stop, true);
    }
    if (cutShort) {
      // Whatever is past the last sentence end was never shown (held in `overflow` or the gate).
      gate.dropTail();
    } else {
      // The model ended by itself: its last words are the chapter's end.
      if (overflow) gate.push(overflow);
      gate.flush();
    }
    const paragraphs = toParagraphs(gate.emitted);
    if (countWords(gate.emitted) <= 1) {
      throw ApplicationFailure.create({
        message: `${name} (${modelName()}) wrote no text for chapter ${req.chapter.index}`,
        type: ProviderErrorTypes.ProviderError,
        details: [{ provider: name, model: modelName() }],
      });
    }
    return { paragraphs, usage, model: modelName() };
  }

  return {
    name,
    offline: false,
    model,
    async warmUp() {
      await loaded();
      // One token of prose: llama.cpp sets up its compute buffers on the first evaluation, so the
      // first chapter does not pay for that either (~0.1 s here), and the banned tokens get looked up.
      await model.generate('The morning was quiet, and', { maxTokens: 1, temperature: 0 });
      await model.banned(BANNED);
    },
    dispose: () => model.dispose(),
    writeOutline: (brief, signal) => classified(name, signal, () => writeOutline(brief, signal)),
    writeChapter: (req, onText, signal) => classified(name, signal, () => writeChapter(req, onText, signal)),
  };
}
