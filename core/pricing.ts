/**
 * Provider prices, in USD, used to put a cost on every provider call in the
 * ledger. The built-in table holds public list prices (standard tier, no batch
 * discounts) as entered by hand on 2026-11-27 (PRICES_ENTERED_ON); prices change,
 * so operators override them without a release through `PROVIDER_PRICES` (JSON,
 * validated when the configuration loads). The offline providers and the local model cost nothing. A
 * model not listed is costed at 0 with `estimated: false`, so a report can tell
 * "free" from "unknown price".
 */
import { z } from 'zod';
/** What one provider call used: tokens for text, pictures for images. */
export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  images?: number;
}

/** When the built-in prices were copied from the providers' price pages. */
export const PRICES_ENTERED_ON = '2026-11-27';

export interface Price {
  /** USD per 1M input (prompt) tokens. */
  inputPerMTok?: number;
  /** USD per 1M output (completion) tokens. */
  outputPerMTok?: number;
  /** USD per generated image. */
  perImage?: number;
}

/** provider → model → price. */
export const PRICES: Readonly<Record<string, Record<string, Price>>> = {
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

export type PriceTable = Record<string, Record<string, Price>>;

const usd = z.number().finite().nonnegative();
const priceOverridesSchema = z.record(
  z.string().min(1),
  z.record(
    z.string().min(1),
    z
      .strictObject({ inputPerMTok: usd.optional(), outputPerMTok: usd.optional(), perImage: usd.optional() })
      .refine((p) => Object.keys(p).length > 0, 'name at least one of inputPerMTok, outputPerMTok, perImage'),
  ),
);

/**
 * Parses `PROVIDER_PRICES`, e.g. `{"groq":{"llama-3.3-70b-versatile":{"inputPerMTok":0.59,"outputPerMTok":0.79}}}`.
 * Each listed model's price replaces the built-in one (or adds a model); the rest
 * stay. Throws an error naming the variable and the bad field.
 */
export function parsePriceOverrides(raw: string | undefined): PriceTable {
  if (raw === undefined || raw.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new Error(`PROVIDER_PRICES: not valid JSON (${(err as Error).message})`);
  }
  const parsed = priceOverridesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new Error(`PROVIDER_PRICES: ${where}: ${issue.message} (expected {provider: {model: {inputPerMTok?, outputPerMTok?, perImage?}}}, USD)`);
  }
  return parsed.data;
}

/** The built-in table with `overrides` laid over it, model by model. */
export function mergePrices(overrides: PriceTable): PriceTable {
  const merged: PriceTable = {};
  for (const [provider, models] of Object.entries(PRICES)) merged[provider] = { ...models };
  for (const [provider, models] of Object.entries(overrides)) merged[provider] = { ...merged[provider], ...models };
  return merged;
}

let active: { raw: string | undefined; table: PriceTable } | undefined;

/** The prices in force in this process: the built-in table with PROVIDER_PRICES over it. */
export function activePrices(): PriceTable {
  const raw = process.env.PROVIDER_PRICES;
  if (!active || active.raw !== raw) active = { raw, table: mergePrices(parsePriceOverrides(raw)) };
  return active.table;
}

export function priceOf(provider: string, model: string, table: PriceTable = activePrices()): Price | undefined {
  return table[provider]?.[model];
}

export function costOf(provider: string, model: string, usage: Usage, table?: PriceTable): CallCost {
  const price = priceOf(provider, model, table);
  // Both run on the worker's own CPU: nothing is billed per token or image, unless an
  // operator prices their own machine's time in PROVIDER_PRICES.
  if (!price && (provider === 'offline' || provider === 'local')) return { costUsd: 0, estimated: true };
  if (!price) return { costUsd: 0, estimated: false };
  const usd =
    ((usage.inputTokens ?? 0) * (price.inputPerMTok ?? 0)) / 1e6 +
    ((usage.outputTokens ?? 0) * (price.outputPerMTok ?? 0)) / 1e6 +
    (usage.images ?? 0) * (price.perImage ?? 0);
  return { costUsd: round6(usd), estimated: true };
}
