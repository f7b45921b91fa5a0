/**
 * The AI services: which providers this deployment has, in which order they are
 * tried, how they did in the last hour; and an admin's switch of that order.
 *
 * Health comes from the cost ledger (one row per successful provider call) and
 * the `provider_failures` log the activities write when a provider call fails.
 * The order is persisted in `provider_settings`; workers read it with a short
 * cache (see activities/provider-calls.ts), so a switch applies without a restart.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Services } from '../../wiring/services';
import { loadConfig, openaiTextConfigured, type Config } from '../../lib/config';
import { HttpProblem, zodProblem } from '../problem';
import type { BreakersClosed, ProviderOrder, ProviderStatus } from '../schemas/ai';

export const TEXT_PROVIDER_NAMES = ['groq', 'openai', 'offline'] as const;
export const IMAGE_PROVIDER_NAMES = ['runware', 'openai', 'offline'] as const;
const ALL = ['groq', 'openai', 'runware', 'offline'] as const;

const orderOf = <T extends readonly [string, ...string[]]>(names: T) =>
  z
    .array(z.enum(names, { message: `must be one of ${names.join(', ')}` }))
    .min(1, 'must name at least one provider')
    .refine((a) => new Set(a).size === a.length, 'must not name a provider twice')
    .meta({ uniqueItems: true })
    .optional();

export const switchProvidersSchema = z
  .object({ text: orderOf(TEXT_PROVIDER_NAMES), image: orderOf(IMAGE_PROVIDER_NAMES) })
  .strict()
  .refine((b) => b.text !== undefined || b.image !== undefined, { message: 'give text, image or both', path: ['text'] })
  .meta({ minProperties: 1 });

export interface AiRouterDeps {
  services: Services;
  /** The providers' configuration; default: this process's environment. */
  providerConfig?: Config['providers'];
}

const HOUR_MS = 3600_000;

export function aiRouter(deps: AiRouterDeps): Router {
  const { ledger } = deps.services.repos;
  const router = Router();
  const config = () => deps.providerConfig ?? loadConfig(process.env).providers;

  router.get('/ai/services/status', async (_req, res) => {
    const p = config();
    const since = new Date(Date.now() - HOUR_MS);
    const [saved, health] = await Promise.all([ledger.getProviderOrder(), ledger.health(since)]);
    const order = { text: saved.text ?? p.textProviders, image: saved.image ?? p.imageProviders };
    const configured: Record<(typeof ALL)[number], boolean> = {
      groq: Boolean(p.groqApiKey),
      openai: openaiTextConfigured(p),
      runware: Boolean(p.runwareApiKey),
      // Always available; used when no key is set, or when a list names it.
      offline: true,
    };
    const kinds = (name: string): Array<'text' | 'image'> =>
      [
        ...((TEXT_PROVIDER_NAMES as readonly string[]).includes(name) ? (['text'] as const) : []),
        ...((IMAGE_PROVIDER_NAMES as readonly string[]).includes(name) ? (['image'] as const) : []),
      ];
    const rank = (list: string[], name: string) => (list.includes(name) ? list.indexOf(name) + 1 : null);
    res.json({
      windowSeconds: HOUR_MS / 1000,
      order: { ...order, source: saved.updatedAt ? 'settings' : 'config', updatedAt: saved.updatedAt ?? null },
      providers: ALL.map((name) => {
        const h = health.find((x) => x.provider === name);
        const calls = h?.calls ?? 0;
        const failures = h?.failures ?? 0;
        return {
          name,
          kinds: kinds(name),
          configured: configured[name],
          preferred: { text: rank(order.text, name), image: rank(order.image, name) },
          lastSuccessAt: h?.lastSuccessAt ?? null,
          lastFailureAt: h?.lastFailureAt ?? null,
          calls,
          failures,
          // Failed share of all calls in the window; null when there were none.
          errorRate: calls + failures === 0 ? null : Math.round((failures / (calls + failures)) * 1000) / 1000,
        };
      }),
    } satisfies ProviderStatus);
  });

  router.post('/ai/services/switch', async (req, res) => {
    if (req.user!.role !== 'admin') {
      throw new HttpProblem(403, 'Forbidden', 'Only an administrator can switch providers.');
    }
    const body = switchProvidersSchema.safeParse(req.body ?? {});
    if (!body.success) throw zodProblem(body.error, 'body');
    const saved = await ledger.setProviderOrder({ ...body.data, by: req.user!.userId });
    const p = config();
    res.json({
      text: saved.text ?? p.textProviders,
      image: saved.image ?? p.imageProviders,
      updatedAt: saved.updatedAt ?? null,
      updatedBy: saved.updatedBy ?? null,
    } satisfies ProviderOrder);
  });

  /**
   * Closes every worker's circuit breakers: the operator fixed what tripped them (a key,
   * a quota) and wants the next call to reach the provider, not wait out the cool-down.
   * Workers pick it up with the provider order, within seconds.
   */
  router.post('/ai/services/breakers/close', async (req, res) => {
    if (req.user!.role !== 'admin') {
      throw new HttpProblem(403, 'Forbidden', 'Only an administrator can close the circuit breakers.');
    }
    res.json({ breakersClosedAt: await ledger.closeBreakers() } satisfies BreakersClosed);
  });

  return router;
}
