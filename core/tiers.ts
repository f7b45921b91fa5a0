/** A profile's plan, as stored. */
export type SubscriptionTier = 'free' | 'speak_now' | 'midnights' | 'eras_tour';

/** The plans (PRODUCT.md): what each allows a month, and its extras. */
export interface TierRules {
  name: string;
  /** Ebooks a calendar month (UTC); null is unlimited. */
  ebooksPerMonth: number | null;
  watermark: boolean;
  priorityQueue: boolean;
  printReady: boolean;
}

export const TIERS: Record<SubscriptionTier, TierRules> = {
  free: { name: 'Debut', ebooksPerMonth: 1, watermark: true, priorityQueue: false, printReady: false },
  speak_now: { name: 'Speak Now', ebooksPerMonth: 3, watermark: false, priorityQueue: false, printReady: false },
  midnights: { name: 'Midnights', ebooksPerMonth: null, watermark: false, priorityQueue: true, printReady: true },
  eras_tour: { name: 'The Eras Tour', ebooksPerMonth: null, watermark: false, priorityQueue: true, printReady: true },
};

export function tierRules(tier: string | null | undefined): TierRules {
  return TIERS[(tier ?? 'free') as SubscriptionTier] ?? TIERS.free;
}

/** The allowance period a moment falls in: the UTC calendar month, 'YYYY-MM'. */
export function allowancePeriod(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}
