import type { ImageProvider, TextProvider } from '../activities/providers/types';
import { createOfflineTextProvider } from '../activities/providers/offline-text';
import { createOfflineImageProvider } from '../activities/providers/offline-image';
import type { Config } from './config';

export interface Providers {
  text: TextProvider;
  image: ImageProvider;
}

/**
 * The providers a worker uses. With no provider key set these are the offline
 * ones; `OFFLINE_PROVIDER_DELAY_MS` gives them a provider-like latency for demos,
 * crash tests and benchmarks.
 */
export function createProviders(config: Config): Providers {
  const delay = config.offlineProviderDelayMs;
  return {
    text: withTextDelay(createOfflineTextProvider(), delay),
    image: withImageDelay(createOfflineImageProvider(), delay),
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
