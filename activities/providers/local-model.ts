/**
 * The language model the `local` text provider runs inside the worker process,
 * through node-llama-cpp (a prebuilt llama.cpp; nothing is built or downloaded
 * at run time: `build: 'never'`, CPU only).
 *
 * One model per process, loaded on first use (a worker that never writes with
 * `local` never pays for it). It serves a fixed number of context sequences from
 * one context: llama.cpp evaluates the sequences' tokens in one batch, so two
 * chapters at once cost little more than one on a small model. Callers beyond
 * that wait in a FIFO queue; a caller whose signal aborts leaves the queue.
 */
import fs from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import type {
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaModel,
  LlamaGrammar,
  LlamaCompletionGenerationOptions,
} from 'node-llama-cpp';

export interface LocalModelOptions {
  modelPath: string;
  /**
   * CPU threads of the context (default: half the cores, at least 1, at most 4).
   * Not all of them: llama.cpp's threads wait for each other spinning, and on a
   * machine whose cores are busy with other work 2 threads on 2 cores ran ~10x
   * slower than 1 (0.3-0.5 against 2.4-5.5 tokens/s, measured here under load).
   */
  threads?: number;
  /** Chapters written at once (context sequences, one batch; default: twice the threads). */
  sequences?: number;
  /** Tokens each sequence holds (default 2048: the auto size hung on first tries). */
  contextSize?: number;
}

/** What one generation produced, and what it cost in tokens. */
export interface Generated {
  text: string;
  inputTokens: number;
  outputTokens: number;
  /** 'eos' / 'stopTrigger' (the model ended), 'maxTokens', 'abort' (we, or the caller, stopped it). */
  stopReason: string;
  /**
   * The caller's signal aborted it: the text and tokens are what was spent before
   * (for the ledger's partial spend); the caller throws the abort reason.
   */
  cancelled: boolean;
}

export type GenerateOptions = Omit<LlamaCompletionGenerationOptions, 'grammar' | 'signal'> & {
  grammar?: LlamaGrammar;
  signal?: AbortSignal;
  /** Aborting this one ends the generation quietly, keeping what was written (ours: a length stop). */
  stop?: AbortSignal;
};

export class ModelMissingError extends Error {
  constructor(readonly modelPath: string) {
    super(
      `the local model is not installed: ${modelPath} does not exist. ` +
        `Run \`npm run model:install\` (it is skipped when EBOOK_SKIP_MODEL=1), or point LOCAL_MODEL_PATH at a GGUF file.`,
    );
    this.name = 'ModelMissingError';
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error('aborted'), { name: 'AbortError' });
}

/**
 * node-llama-cpp is ESM-only and native: imported on first use, by file URL, since
 * a bare `import()` from this CommonJS module fails when tsx loads it from ESM.
 */
let nodeLlamaCpp: Promise<typeof import('node-llama-cpp')> | undefined;
const loadLibrary = () =>
  (nodeLlamaCpp ??= import(pathToFileURL(require.resolve('node-llama-cpp')).href) as Promise<typeof import('node-llama-cpp')>);

export class LocalModel {
  readonly modelPath: string;
  readonly threads: number;
  readonly sequences: number;
  readonly contextSize: number;
  private loading: Promise<{ llama: Llama; model: LlamaModel; context: LlamaContext }> | undefined;
  private free: LlamaContextSequence[] = [];
  private waiting: Array<{ resolve: (s: LlamaContextSequence) => void; reject: (e: unknown) => void; signal?: AbortSignal }> = [];
  /** Generations in flight, so `dispose` can stop them before freeing the model under them. */
  private running = new Set<AbortController>();
  private disposed = false;

  constructor(opts: LocalModelOptions) {
    this.modelPath = opts.modelPath;
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    this.threads = Math.max(1, opts.threads ?? Math.min(Math.floor(cores / 2), 4));
    this.sequences = Math.max(1, opts.sequences ?? this.threads * 2);
    this.contextSize = opts.contextSize ?? 2048;
  }

  /** True when the model file is there (selection checks this before choosing `local`). */
  static installed(modelPath: string): boolean {
    try {
      return fs.statSync(modelPath).isFile();
    } catch {
      return false;
    }
  }

  /** Loads the library, the model and its context once; later calls share the same promise. */
  load() {
    if (this.disposed) return Promise.reject(new Error('the local model was disposed'));
    this.loading ??= (async () => {
      if (!LocalModel.installed(this.modelPath)) throw new ModelMissingError(this.modelPath);
      const { getLlama, LlamaLogLevel } = await loadLibrary();
      // gpu: false and build: 'never' keep it to the prebuilt CPU binary: no compiler, no download.
      const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
      const model = await llama.loadModel({ modelPath: this.modelPath });
      const context = await model.createContext({
        contextSize: this.contextSize,
        sequences: this.sequences,
        threads: this.threads,
      });
      for (let i = 0; i < this.sequences; i++) this.free.push(context.getSequence());
      return { llama, model, context };
    })();
    // A failed load (file removed, bad file) is tried again on the next call rather than cached.
    this.loading.catch(() => (this.loading = undefined));
    return this.loading;
  }

  async model(): Promise<LlamaModel> {
    return (await this.load()).model;
  }

  /** A JSON-schema grammar for this model's llama instance (constrains what the model may write). */
  async grammarFor(schema: object): Promise<LlamaGrammar> {
    const { llama } = await this.load();
    return llama.createGrammarForJsonSchema(schema as any);
  }

  /** Waits for a free sequence (FIFO). */
  private acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const seq = this.free.pop();
    if (seq) return Promise.resolve(seq);
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, signal };
      this.waiting.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) {
            this.waiting.splice(i, 1);
            reject(abortError(signal));
          }
        },
        { once: true },
      );
    });
  }

  private release(seq: LlamaContextSequence) {
    const next = this.waiting.shift();
    if (next) next.resolve(seq);
    else this.free.push(seq);
  }

  /** How many callers wait for a sequence (tests, metrics). */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Continues `prompt` on a pooled sequence, streaming through `onTextChunk`.
   * The caller's `signal` or `stop` end the generation and return what was
   * written (`cancelled` tells the caller's abort apart); only an abort while
   * still queued throws (nothing was spent).
   */
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<Generated> {
    const { signal, stop, ...rest } = opts;
    await this.load();
    const seq = await this.acquire(signal);
    const mine = new AbortController();
    this.running.add(mine);
    try {
      if (signal?.aborted) throw abortError(signal);
      // Each chapter starts from an empty sequence: no text of another book leaks into it.
      await seq.clearHistory();
      const { LlamaCompletion } = await loadLibrary();
      const completion = new LlamaCompletion({ contextSequence: seq });
      const before = seq.tokenMeter.getState();
      const any = AbortSignal.any([mine.signal, ...(signal ? [signal] : []), ...(stop ? [stop] : [])]);
      let result: Awaited<ReturnType<typeof completion.generateCompletionWithMeta>>;
      try {
        result = await completion.generateCompletionWithMeta(prompt, { ...rest, signal: any, stopOnAbortSignal: true });
      } finally {
        completion.dispose();
      }
      const used = seq.tokenMeter.diff(before);
      if (mine.signal.aborted && !signal?.aborted) throw new Error('the local model is shutting down');
      return {
        text: result.response,
        inputTokens: used.usedInputTokens,
        outputTokens: used.usedOutputTokens,
        stopReason: result.metadata.stopReason,
        cancelled: Boolean(signal?.aborted),
      };
    } finally {
      this.running.delete(mine);
      if (!this.disposed) this.release(seq);
    }
  }

  /**
   * A token bias that forbids the tokens of `words` (e.g. "Chapter": a base model
   * that starts the next chapter's heading is steered back to prose instead).
   */
  async banned(words: string[]): Promise<import('node-llama-cpp').TokenBias> {
    const [{ TokenBias }, model] = await Promise.all([loadLibrary(), this.model()]);
    const bias = new TokenBias(model.tokenizer);
    for (const w of words) {
      const tokens = model.tokenize(w);
      // Only whole-word tokens: banning a piece of a word would ban it everywhere.
      if (tokens.length === 1) bias.set(tokens, 'never');
    }
    // Special tokens a base model emits as if they were text (Gemma's <start_of_image> mid-chapter).
    for (const s of ['<start_of_image>', '<end_of_image>', '<start_of_turn>', '<end_of_turn>']) {
      const tokens = model.tokenize(s, true);
      if (tokens.length === 1) bias.set(tokens, 'never');
    }
    return bias;
  }

  /** Tokens of `text` in this model's vocabulary (for budgets; loads the model). */
  async countTokens(text: string): Promise<number> {
    return (await this.model()).tokenize(text).length;
  }

  /**
   * Clean stop: generations in flight end, waiting callers are refused, and the
   * context, model and llama.cpp backend are freed (a worker's native threads
   * must not keep its process alive after the worker drained).
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.running) c.abort(new Error('the local model is shutting down'));
    for (const w of this.waiting.splice(0)) w.reject(new Error('the local model is shutting down'));
    const loaded = await this.loading?.catch(() => undefined);
    if (!loaded) return;
    this.free = [];
    await loaded.context.dispose();
    await loaded.model.dispose();
    await loaded.llama.dispose();
  }
}
