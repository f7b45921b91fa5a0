/**
 * The cost ledger (one row per real provider call), the provider failure log and
 * the persisted provider order. See migration 20251127040000_cost_ledger.
 */
import type { Knex } from 'knex';
import { costOf } from '../core/pricing';
import type { Usage } from '../core/pricing';

export interface LedgerEntry {
  ebookId: string;
  /** The owner's profile id (default: the book's owner). */
  userId?: string;
  step: string;
  chapterIndex?: number | null;
  provider: string;
  model: string;
  usage: Usage;
  /** Unique per real provider call; a second record with the same key is dropped. */
  idempotencyKey: string;
  /**
   * What the call returned, kept so a retry of the same activity reuses it rather than
   * paying again (a chapter's text, where a picture was stored): see `paidResult`.
   */
  result?: unknown;
}

/** A paid call's kept result, with who produced it. */
export interface PaidResult<T = unknown> {
  idempotencyKey: string;
  provider: string;
  model: string;
  result: T;
}

export interface BookCost {
  totalUsd: number;
  calls: number;
  byProvider: Record<string, { usd: number; calls: number; inputTokens: number; outputTokens: number; images: number }>;
}

export interface ProviderOrder {
  text?: string[];
  image?: string[];
  updatedAt?: string;
  updatedBy?: string;
  /** When the providers' circuit breakers were last closed on purpose (workers close theirs). */
  breakersClosedAt?: string;
}

export interface ProviderHealth {
  provider: string;
  calls: number;
  failures: number;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
}

/** The summing part of the cost, as SQL over the ledger rows whose `column` is `?`. */
const costSql = (column: 'ebook_id' | 'story_id') => `
  SELECT jsonb_build_object(
    'totalUsd', coalesce(sum(p.usd), 0),
    'calls', coalesce(sum(p.calls), 0),
    'byProvider', coalesce(jsonb_object_agg(p.provider, jsonb_build_object(
      'usd', p.usd, 'calls', p.calls, 'inputTokens', p.input_tokens,
      'outputTokens', p.output_tokens, 'images', p.images)), '{}'::jsonb)
  ) AS cost
  FROM (
    SELECT provider, sum(cost_usd) AS usd, count(*) AS calls, sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens, sum(images) AS images
    FROM cost_ledger WHERE ${column} = ? GROUP BY provider
  ) p`;

const COST_SQL = costSql('ebook_id');

/** The call's columns from `step` to `idempotency_key`, in the order the inserts name them. */
function callValues(e: Omit<LedgerEntry, 'ebookId'>) {
  const price = costOf(e.provider, e.model, e.usage);
  return [
    e.step,
    e.chapterIndex ?? null,
    e.provider,
    e.model,
    Math.round(e.usage.inputTokens ?? 0),
    Math.round(e.usage.outputTokens ?? 0),
    Math.round(e.usage.images ?? 0),
    price.costUsd,
    price.estimated,
    e.idempotencyKey,
  ];
}

const num = (v: unknown) => Number(v ?? 0);

function parseCost(raw: any): BookCost {
  const byProvider: BookCost['byProvider'] = {};
  for (const [k, v] of Object.entries<any>(raw?.byProvider ?? {})) {
    byProvider[k] = {
      usd: num(v.usd),
      calls: num(v.calls),
      inputTokens: num(v.inputTokens),
      outputTokens: num(v.outputTokens),
      images: num(v.images),
    };
  }
  return { totalUsd: num(raw?.totalUsd), calls: num(raw?.calls), byProvider };
}

export function createLedger(knex: Knex) {
  return {
    /**
     * Records one provider call (once per key) and recomputes the book's `cost`
     * from the whole ledger. The book row is locked first, so the summing
     * statement runs after every concurrent writer before it has committed: two
     * chapters finishing together can never leave a total missing one of them.
     */
    async record(e: LedgerEntry, outer?: Knex.Transaction): Promise<{ inserted: boolean; cost: BookCost }> {
      // Inside the caller's transaction when given, so the row commits with what goes with it.
      const run = <T>(fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> => (outer ? fn(outer) : knex.transaction(fn));
      return run(async (trx) => {
        // Locked before the insert: the insert's foreign-key check share-locks the row, and
        // upgrading that lock later would deadlock against a concurrent writer doing the same.
        await trx.raw('SELECT 1 FROM memory_books WHERE id = ? FOR NO KEY UPDATE', [e.ebookId]);
        const inserted = await trx.raw(
          `INSERT INTO cost_ledger (ebook_id, user_id, step, chapter_index, provider, model,
             input_tokens, output_tokens, images, cost_usd, estimated, idempotency_key, result)
           VALUES (?, coalesce(?::uuid, (SELECT user_id FROM memory_books WHERE id = ?)), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
          [
            e.ebookId,
            e.userId ?? null,
            e.ebookId,
            ...callValues(e),
            e.result === undefined ? null : JSON.stringify(e.result),
          ],
        );
        const { rows } = await trx.raw(
          `UPDATE memory_books SET cost = cost || (${COST_SQL}), updated_at = now() WHERE id = ? RETURNING cost`,
          [e.ebookId, e.ebookId],
        );
        return { inserted: inserted.rows.length > 0, cost: parseCost(rows[0]?.cost) };
      });
    },

    /**
     * Records one provider call that belongs to no book (a generated story, an
     * improved prompt, a single picture), once per key, under the user who asked.
     */
    async recordUnbooked(
      e: Omit<LedgerEntry, 'ebookId' | 'userId'> & { userId: string; storyId?: string },
      outer?: Knex.Transaction,
    ): Promise<{ inserted: boolean }> {
      const { rows } = await (outer ?? knex).raw(
        `INSERT INTO cost_ledger (user_id, story_id, step, chapter_index, provider, model,
           input_tokens, output_tokens, images, cost_usd, estimated, idempotency_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
        [
          e.userId,
          e.storyId ?? null,
          ...callValues(e),
        ],
      );
      return { inserted: rows.length > 0 };
    },

    /**
     * The latest kept result of the book's `step` (chapter `index`) among the calls whose
     * key starts with `keyPrefix` (one activity's attempts: `workflowId:activityId:`);
     * undefined when none was kept.
     */
    async paidResult<T = unknown>(ebookId: string, keyPrefix: string, step: string, index?: number | null): Promise<PaidResult<T> | undefined> {
      const { rows } = await knex.raw(
        `SELECT idempotency_key, provider, model, result FROM cost_ledger
          WHERE ebook_id = ? AND step = ? AND chapter_index IS NOT DISTINCT FROM ?::int
            AND starts_with(idempotency_key, ?) AND result IS NOT NULL
          ORDER BY id DESC LIMIT 1`,
        [ebookId, step, index ?? null, keyPrefix],
      );
      const r = rows[0];
      return r ? { idempotencyKey: r.idempotency_key, provider: r.provider, model: r.model, result: r.result as T } : undefined;
    },

    /** What generating a story has cost (every run), straight from the ledger. */
    async costOfStory(storyId: string): Promise<BookCost> {
      const { rows } = await knex.raw(costSql('story_id'), [storyId]);
      return parseCost(rows[0]?.cost);
    },

    /** The book's cost straight from the ledger. */
    async costOf(ebookId: string): Promise<BookCost> {
      const { rows } = await knex.raw(COST_SQL, [ebookId]);
      return parseCost(rows[0]?.cost);
    },

    async entries(ebookId: string) {
      return knex('cost_ledger').where({ ebook_id: ebookId }).orderBy('id');
    },

    /** A failed provider call, for the status page (best effort: callers ignore errors). */
    async recordFailure(f: { provider: string; ebookId?: string; step: string; errorType?: string; message?: string }): Promise<void> {
      await knex('provider_failures').insert({
        provider: f.provider,
        ebook_id: f.ebookId ?? null,
        step: f.step,
        error_type: f.errorType ?? null,
        message: f.message?.slice(0, 500) ?? null,
      });
    },

    /** Calls (ledger) and failures (failure log) per provider since `since`. */
    async health(since: Date): Promise<ProviderHealth[]> {
      const { rows } = await knex.raw(
        `SELECT provider, sum(calls)::int AS calls, sum(failures)::int AS failures,
                max(last_success) AS last_success, max(last_failure) AS last_failure
         FROM (
           SELECT provider, count(*) AS calls, 0 AS failures, max(created_at) AS last_success, NULL::timestamptz AS last_failure
           FROM cost_ledger WHERE created_at >= ? GROUP BY provider
           UNION ALL
           SELECT provider, 0, count(*), NULL, max(created_at)
           FROM provider_failures WHERE created_at >= ? GROUP BY provider
         ) x GROUP BY provider`,
        [since, since],
      );
      return rows.map((r: any) => ({
        provider: r.provider,
        calls: r.calls,
        failures: r.failures,
        lastSuccessAt: r.last_success ? new Date(r.last_success).toISOString() : null,
        lastFailureAt: r.last_failure ? new Date(r.last_failure).toISOString() : null,
      }));
    },

    async getProviderOrder(): Promise<ProviderOrder> {
      const row = await knex('provider_settings').first();
      if (!row) return {};
      return {
        text: row.text_order ?? undefined,
        image: row.image_order ?? undefined,
        updatedAt: new Date(row.updated_at).toISOString(),
        updatedBy: row.updated_by ?? undefined,
        breakersClosedAt: row.breakers_closed_at ? new Date(row.breakers_closed_at).toISOString() : undefined,
      };
    },

    /** Asks every worker to close its circuit breakers (read with the provider order). */
    async closeBreakers(): Promise<string> {
      const { rows } = await knex.raw(
        `INSERT INTO provider_settings (id, breakers_closed_at, updated_at) VALUES (true, now(), now())
         ON CONFLICT (id) DO UPDATE SET breakers_closed_at = now()
         RETURNING breakers_closed_at`,
      );
      return new Date(rows[0].breakers_closed_at).toISOString();
    },

    /** Upserts the single settings row; a kind left out keeps its previous order. */
    async setProviderOrder(order: { text?: string[]; image?: string[]; by?: string }): Promise<ProviderOrder> {
      await knex.raw(
        `INSERT INTO provider_settings (id, text_order, image_order, updated_by, updated_at)
         VALUES (true, (SELECT array_agg(x) FROM jsonb_array_elements_text(?::jsonb) x),
                 (SELECT array_agg(x) FROM jsonb_array_elements_text(?::jsonb) x), ?, now())
         ON CONFLICT (id) DO UPDATE SET
           text_order = coalesce(EXCLUDED.text_order, provider_settings.text_order),
           image_order = coalesce(EXCLUDED.image_order, provider_settings.image_order),
           updated_by = EXCLUDED.updated_by, updated_at = now()`,
        // As JSON: knex would expand a JS array binding into a list of values.
        [order.text ? JSON.stringify(order.text) : null, order.image ? JSON.stringify(order.image) : null, order.by ?? null],
      );
      return this.getProviderOrder();
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;

/**
 * The persisted provider order with a short cache, so workers follow an admin's
 * switch within `ttlMs` without a restart and without a query per provider call.
 * A failed read keeps the last known order.
 */
export function cachedProviderOrder(ledger: Pick<Ledger, 'getProviderOrder'>, ttlMs = 10_000, now = Date.now) {
  let value: ProviderOrder = {};
  let fetchedAt = -Infinity;
  let inflight: Promise<ProviderOrder> | undefined;
  return async (): Promise<ProviderOrder> => {
    if (now() - fetchedAt < ttlMs) return value;
    inflight ??= ledger
      .getProviderOrder()
      .then((v) => {
        value = v;
        fetchedAt = now();
        return v;
      })
      .catch(() => value)
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
}
