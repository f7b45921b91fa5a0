/**
 * Provider prices, in USD, used to put a cost on every provider call in the
 * ledger. Public list prices (standard tier, no batch discounts) at the time of
 * writing; they change, so they live here in one table. The offline providers
 * cost nothing. A model not listed here is costed at 0 with `estimated: false`,
 * so a report can tell "free" from "unknown price".
 */
import type { Usage } from '../activities/providers/types';

export interface Price {
  /** USD per 1M input (prompt) tokens. */
  inputPerMTok?: number;
  /** USD per 1M output (completion) tokens. */
  outputPerMTok?: number;
  /** USD per generated image. */
  perImage?: number;
}

/** provider → model → price. */
export const PRICES: Record<string, Record<string, Price>> = {
  groq: {
    'openai/gpt-oss-120b': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
    'openai/gpt-oss-20b': { inputPerMTok: 0.075, outputPerMTok: 0.3 },
    'llama-3.3-70b-versatile': { inputPerMTok: 0.59, outputPerMTok: 0.79 },
    'llama-3.1-8b-instant': { inputPerMTok: 0.05, outputPerMTok: 0.08 },
  },
  openai: {
    'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
    'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
    'gpt-4.1-nano': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
    'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
    // Images at medium quality, 1024-ish sizes.
    'gpt-image-1': { perImage: 0.042 },
    'dall-e-3': { perImage: 0.04 },
  },
  runware: {
    'runware:101@1': { perImage: 0.0038 },
    'runware:100@1': { perImage: 0.0013 },
  },
};

export interface CallCost {
  costUsd: number;
  /** True when a price was found (the cost is an estimate from list prices); false for unknown models. */
  estimated: boolean;
}

/** Rounded to the ledger's precision (numeric(12,6)), so sums in SQL and JS agree exactly. */
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

export function priceOf(provider: string, model: string): Price | undefined {
  return PRICES[provider]?.[model];
}

export function costOf(provider: string, model: string, usage: Usage): CallCost {
  if (provider === 'offline') return { costUsd: 0, estimated: true };
  const price = priceOf(provider, model);
  if (!price) return { costUsd: 0, estimated: false };
  const usd =
    ((usage.inputTokens ?? 0) * (price.inputPerMTok ?? 0)) / 1e6 +
    ((usage.outputTokens ?? 0) * (price.outputPerMTok ?? 0)) / 1e6 +
    (usage.images ?? 0) * (price.perImage ?? 0);
  return { costUsd: round6(usd), estimated: true };
}
