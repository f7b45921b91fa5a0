/**
 * A user's books and plan: `GET /users/{userId}/ebooks` (their status documents,
 * a page at a time) and the subscription, which only an admin (or billing) changes;
 * and an admin's `DELETE /users/{userId}`, which erases the user (workflows/erase.ts).
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Services } from '../../wiring/services';
import { allowancePeriod, tierRules, TIERS } from '../../core/tiers';
import type { Profile, SubscriptionTier } from '../../db/repositories';
import { HttpProblem, notFound, zodProblem } from '../problem';
import { statusOf } from './helpers/books';
import { listQuerySchema, pageOrProblem, parseStrict } from './helpers/request';
import { subjectProfile } from './helpers/users';
import { eraseUserByAdmin, type ErasureStarter } from '../services/erasure';
import type { BookPage } from '../schemas/ebooks';
import type { Subscription } from '../schemas/users';

export const subscriptionSchema = z.strictObject({
  tier: z.enum(Object.keys(TIERS) as [SubscriptionTier, ...SubscriptionTier[]]),
  expiresAt: z.iso.datetime({ message: 'must be an ISO 8601 date-time' }).nullable().optional(),
});

/** Routes about one user: `me` or their Clerk user id; another user's answer 404 unless the caller is an admin. */
export function userRouter(services: Services, erasure?: ErasureStarter): Router {
  const { repos } = services;
  const router = Router();

  router.get('/users/:userId/ebooks', async (req, res) => {
    const q = listQuerySchema.safeParse(req.query);
    if (!q.success) throw zodProblem(q.error, 'query');
    const profile = await subjectProfile(services, req);
    const page = await pageOrProblem(() => repos.ebooks.listForUser(profile.id, { limit: q.data.limit, cursor: q.data.cursor }));
    res.json({
      items: page.items.map((b) => ({
        ...statusOf(b),
        createdAt: b.createdAt,
        pdfUrl: b.pdfUrl ?? null,
        epubUrl: b.epubUrl ?? null,
      })),
      nextCursor: page.nextCursor ?? null,
    } satisfies BookPage);
  });

  router.get('/users/:userId/subscription', async (req, res) => {
    const profile = await subjectProfile(services, req);
    res.json(await subscriptionOf(profile));
  });

  router.put('/users/:userId/subscription', async (req, res) => {
    // Plans change through billing or an admin, never by the user themselves.
    if (req.user!.role !== 'admin') {
      throw new HttpProblem(403, 'Forbidden', 'Only an administrator can change a subscription.');
    }
    const body = { data: parseStrict(subscriptionSchema, req.body ?? {}, 'body') };
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

  router.delete('/users/:userId', async (req, res) => {
    if (req.user!.role !== 'admin') {
      throw new HttpProblem(403, 'Forbidden', 'Only an administrator can erase a user.');
    }
    if (!erasure) throw new HttpProblem(503, 'Service Unavailable', 'Erasure is not available here.');
    const userId = req.params.userId === 'me' ? req.user!.userId : String(req.params.userId);
    const started = await eraseUserByAdmin(erasure, repos, userId, req.user!.userId);
    if (!started) throw notFound('User');
    res.status(202).json(started);
  });

  async function subscriptionOf(profile: Profile): Promise<Subscription> {
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
