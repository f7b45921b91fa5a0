import type { ImageProvider, TextProvider } from '../activities/providers/types';
import { createOfflineTextProvider } from '../activities/providers/offline-text';
import { createOfflineImageProvider } from '../activities/providers/offline-image';
import { createGroqTextProvider } from '../activities/providers/groq-text';
import { createOpenAITextProvider } from '../activities/providers/openai-text';
import { createRunwareImageProvider } from '../activities/providers/runware-image';
import { createOpenAIImageProvider } from '../activities/providers/openai-image';
import { createFailoverImageProvider, createFailoverTextProvider } from '../activities/providers/failover';
import { openaiTextConfigured, type Config } from '../lib/config';
import type { ActivityDeps } from '../activities/deps';
import { createLocalTextProvider, type LocalTextProvider } from '../activities/providers/local-text';
import { LocalModel } from '../activities/providers/local-model';

export interface Providers {
  text: TextProvider;
  image: ImageProvider;
  /** The first configured image provider with an upscaler; none: pictures are upscaled locally. */
  upscaler?: ActivityDeps['upscaler'];
  /**
   * Frees what the providers hold in this process (the local model's memory and
   * native threads); call it once the worker drained, before the process exits.
   */
  disposeProviders?(): Promise<void>;
  /**
   * Readies what the first book would otherwise wait for (the local model's load, ~2 s on a
   * quiet machine, far more on a busy one); resolves at once when there is nothing to ready.
   * A worker starts it in the background when it starts (workers/worker.ts).
   */
  warmUp?(): Promise<void>;
}

/**
 * The providers a worker uses.
 *
 * With no text key and no TEXT_PROVIDERS, text is written by `local` (the
 * language model `npm install` puts in .tools/models) when its file is there,
 * else by `offline`; TEXT_PROVIDERS=offline keeps the instant template writer.
 * With no image key the pictures are the offline ones; `OFFLINE_PROVIDER_DELAY_MS`
 * gives them a provider-like latency for demos, crash tests and benchmarks.
 * With keys: a failover over the configured providers in `TEXT_PROVIDERS` /
 * `IMAGE_PROVIDERS` order (unconfigured ones skipped). Offline joins a keyed
 * setup only when the list names it: a real deployment that loses its providers
 * should fail loudly, not quietly write offline books.
 */
export function createProviders(config: Config): Providers {
  const p = config.providers;
  const delay = config.offlineProviderDelayMs;
  const offlineText = () => withTextDelay(createOfflineTextProvider(), delay);
  const offlineImage = () => withImageDelay(createOfflineImageProvider(), delay);
  const failover = {
    attemptBudget: p.attemptBudget,
    breakerThreshold: p.breakerThreshold,
    breakerCooldownMs: p.breakerCooldownMs,
  };

  // OPENAI_BASE_URL without a key counts: a local OpenAI-compatible server needs none.
  const textKeys = Boolean(p.groqApiKey || openaiTextConfigured(p));
  // Unset TEXT_PROVIDERS with no key: the best writer this machine has.
  const textOrder =
    !p.textProvidersSet && !textKeys ? [LocalModel.installed(p.localModelPath) ? 'local' : 'offline'] : p.textProviders;
  let local: LocalTextProvider | undefined;
  const text: TextProvider[] = [];
  for (const name of textOrder) {
    if (name === 'groq' && p.groqApiKey) {
      text.push(
        createGroqTextProvider({
          apiKey: p.groqApiKey,
          baseURL: p.groqBaseUrl,
          model: p.textModelGroq,
          temperature: p.textTemperature,
          maxTokens: p.textMaxTokens,
          timeoutMs: p.timeoutMs,
        }),
      );
    } else if (name === 'openai' && openaiTextConfigured(p)) {
      text.push(
        createOpenAITextProvider({
          apiKey: p.openaiApiKey,
          baseURL: p.openaiBaseUrl,
          model: p.textModelOpenai,
          temperature: p.textTemperature,
          maxTokens: p.textMaxTokens,
          timeoutMs: p.timeoutMs,
        }),
      );
    } else if (name === 'local') {
      // Named explicitly without the model: refuse to start, saying how to install it.
      if (!LocalModel.installed(p.localModelPath)) {
        throw new Error(
          `TEXT_PROVIDERS: local needs the model at ${p.localModelPath}; run \`npm run model:install\` or set LOCAL_MODEL_PATH`,
        );
      }
      local = createLocalTextProvider({
        modelPath: p.localModelPath,
        threads: p.localModelThreads,
        sequences: p.localModelSequences,
        chapterWords: p.localChapterWords,
        temperature: p.textTemperature,
        modelPlan: p.localModelPlan,
      });
      text.push(local);
    } else if (name === 'offline') {
      text.push(offlineText());
    }
  }

  const image: ImageProvider[] = [];
  for (const name of p.imageProviders) {
    if (name === 'runware' && p.runwareApiKey) {
      image.push(
        createRunwareImageProvider({
          apiKey: p.runwareApiKey,
          url: p.runwareUrl,
          model: p.imageModelRunware,
          timeoutMs: p.timeoutMs,
        }),
      );
    } else if (name === 'openai' && p.openaiApiKey) {
      image.push(
        createOpenAIImageProvider({
          apiKey: p.openaiApiKey,
          baseURL: p.openaiBaseUrl,
          model: p.imageModelOpenai,
          timeoutMs: p.timeoutMs,
        }),
      );
    } else if (name === 'offline') {
      image.push(offlineImage());
    }
  }

  // A kind with no key at all runs offline, as without keys. A kind whose keys are set but whose
  // list names none of them is a misconfiguration: refuse to start rather than write offline books.
  const imageKeys = Boolean(p.runwareApiKey || p.openaiApiKey);
  if (text.length === 0 && textKeys) {
    throw new Error(`TEXT_PROVIDERS: none of ${p.textProviders.join(',')} has a key (set one, or list offline)`);
  }
  if (image.length === 0 && imageKeys) {
    throw new Error(`IMAGE_PROVIDERS: none of ${p.imageProviders.join(',')} has a key (set one, or list offline)`);
  }
  const withUpscaler = image.find((p) => p.upscaleImage);
  return {
    upscaler: withUpscaler?.upscaleImage ? { name: withUpscaler.name, upscaleImage: withUpscaler.upscaleImage } : undefined,
    text: text.length === 0 ? offlineText() : text.length === 1 && text[0].offline ? text[0] : createFailoverTextProvider(text, failover),
    image:
      image.length === 0 ? offlineImage() : image.length === 1 && image[0].offline ? image[0] : createFailoverImageProvider(image, failover),
    disposeProviders: async () => {
      await local?.dispose();
    },
    warmUp: async () => {
      await local?.warmUp();
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error('aborted'));
    });
  });
}

function withTextDelay(p: TextProvider, ms: number): TextProvider {
  if (ms <= 0) return p;
  return {
    name: p.name,
    offline: p.offline,
    async writeOutline(brief, signal) {
      await sleep(ms, signal);
      return p.writeOutline(brief, signal);
    },
    async writeChapter(req, onText, signal) {
      await sleep(ms, signal);
      return p.writeChapter(req, onText, signal);
    },
  };
}

function withImageDelay(p: ImageProvider, ms: number): ImageProvider {
  if (ms <= 0) return p;
  return {
    name: p.name,
    offline: p.offline,
    async generateImage(req, signal) {
      await sleep(ms, signal);
      return p.generateImage(req, signal);
    },
  };
}
