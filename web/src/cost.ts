/**
 * Money for people: the live view sums each `provider.call` event's cost with
 * the engine's own price table (the same one the cost ledger uses), so the
 * running figure and the book's final total agree. List prices: an estimate.
 */
import { costOf } from '../../core/pricing';

/** The estimated USD of one `provider.call` event's payload; 0 when it carries no usage. */
export function callCostUsd(data: unknown): number {
  const d = (data ?? {}) as { provider?: unknown; model?: unknown; usage?: unknown };
  if (typeof d.provider !== 'string' || typeof d.model !== 'string' || typeof d.usage !== 'object' || !d.usage) return 0;
  return costOf(d.provider, d.model, d.usage as Parameters<typeof costOf>[2]).costUsd;
}

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 });

/** "US$0.0123": cents alone would show most books as free. */
export function formatUsd(usd: number): string {
  return `US${money.format(Math.round(usd * 1e4) / 1e4)}`;
}
