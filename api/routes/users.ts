import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Services } from '../../wiring/services';
import { allowancePeriod, tierRules, TIERS } from '../../core/tiers';
import { InvalidCursorError, type Profile, type SubscriptionTier } from '../../db/repositories';
import { HttpProblem, notFound, zodProblem } from '../problem';
import { statusOf } from './ebooks';

export const listQuerySchema = z.object({
  limit: z.coerce.number().int('must be an integer').min(1, 'must be 1-100').max(100, 'must be 1-100').default(20),
  cursor: z.string().max(200).optional(),
});

export const subscriptionSchema = z.object({
  tier: z.enum(Object.keys(TIERS) as [SubscriptionTier, ...SubscriptionTier[]]),
  expiresAt: z.iso.datetime({ message: 'must be an ISO 8601 date-time' }).nullable().optional(),
});

/** Routes about one user: `me` or their Clerk user id; another user's answer 404 unless the caller is an admin. */
export function userRouter(services: Services): Router {
  const { repos } = services;
  const router = Router();

  const subject = async (req: Request): Promise<Profile | undefined> => {
    const caller = req.user!;
    const userId = req.params.userId === 'me' ? caller.userId : String(req.params.userId);
    if (userId !== caller.userId && caller.role !== 'admin') throw notFound('User');
    if (userId === caller.userId) return repos.profiles.ensure({ clerkUserId: caller.userId, role: caller.role });
    return repos.profiles.getByClerkId(userId);
  };

  router.get('/users/:userId/ebooks', async (req, res) => {
    const q = listQuerySchema.safeParse(req.query);
    if (!q.success) throw zodProblem(q.error, 'query');
    const profile = await subject(req);
    if (!profile) throw notFound('User');
    let page;
    try {
      page = await repos.ebooks.listForUser(profile.id, { limit: q.data.limit, cursor: q.data.cursor });
    } catch (err) {
      if (err instanceof InvalidCursorError) {
        throw new HttpProblem(400, 'Invalid request', 'query.cursor: is not a cursor this API gave out', {
          errors: [{ field: 'query.cursor', message: 'is not a cursor this API gave out' }],
        });
      }
      throw err;
    }
    res.json({
      items: page.items.map((b) => ({
        ...statusOf(b),
        createdAt: b.createdAt,
        pdfUrl: b.pdfUrl ?? null,
        epubUrl: b.epubUrl ?? null,
      })),
      nextCursor: page.nextCursor ?? null,
    });
  });

  router.get('/users/:userId/subscription', async (req, res) => {
    const profile = await subject(req);
    if (!profile) throw notFound('User');
    res.json(await subscriptionOf(profile));
  });

  router.put('/users/:userId/subscription', async (req, res) => {
    // Plans change through billing or an admin, never by the user themselves.
    if (req.user!.role !== 'admin') {
      throw new HttpProblem(403, 'Forbidden', 'Only an administrator can change a subscription.');
    }
    const body = subscriptionSchema.safeParse(req.body ?? {});
    if (!body.success) throw zodProblem(body.error, 'body');
    const userId = req.params.userId === 'me' ? req.user!.userId : String(req.params.userId);
    const profile = await repos.profiles.setSubscription(userId, body.data.tier, body.data.expiresAt ?? null);
    if (!profile) throw notFound('User');
    await repos.activities.record({
      userId: profile.id,
      type: 'subscription_changed',
      data: { tier: body.data.tier, by: req.user!.userId },
    });
    res.json(await subscriptionOf(profile));
  });

  async function subscriptionOf(profile: Profile) {
    const rules = tierRules(profile.subscriptionTier);
    const period = allowancePeriod();
    const used = await repos.usage.used(profile.id, period);
    return {
      userId: profile.clerkUserId,
      tier: profile.subscriptionTier,
      name: rules.name,
      expiresAt: profile.subscriptionExpiresAt,
      ebooksPerMonth: rules.ebooksPerMonth,
      period,
      usedThisPeriod: used,
      remainingThisPeriod: rules.ebooksPerMonth === null ? null : Math.max(rules.ebooksPerMonth - used, 0),
      watermark: rules.watermark,
      printReady: rules.printReady,
      priorityQueue: rules.priorityQueue,
    };
  }

  return router;
}
