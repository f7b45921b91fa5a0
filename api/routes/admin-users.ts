/**
 * Users for administrators: `GET`/`PUT /auth/users/{userId}` read and change a
 * user's profile, role and plan; every call is recorded in the user's activity
 * (who looked, what changed). `DELETE` starts the user's erasure, as
 * `DELETE /v1/users/{id}` does.
 *
 * A role lives in the session token (Clerk: the user's public metadata, which the
 * instance's session-token template carries as `metadata.role`). So a change is
 * written to Clerk too when Clerk is configured, and taking admin away signs the
 * user out everywhere: their current tokens still say admin.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Services } from '../../wiring/services';
import type { Profile, SubscriptionTier } from '../../db/repositories';
import { tierRules } from '../../core/tiers';
import { HttpProblem, notFound } from '../problem';
import { parseStrict } from './helpers/request';
import { updateProfileSchema } from './profiles';
import { subscriptionSchema } from './users';
import type { SessionControl } from '../services/sessions';
import { eraseUserByAdmin, type ErasureStarter } from '../services/erasure';

export const adminUpdateUserSchema = z
  .strictObject({
    name: updateProfileSchema.shape.name,
    avatarUrl: updateProfileSchema.shape.avatarUrl,
    role: z.enum(['user', 'admin'], { message: 'must be user or admin' }).optional(),
    plan: subscriptionSchema.optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'must change name, avatarUrl, role or plan' })
  .meta({ minProperties: 1 });

export interface AdminUserDeps {
  services: Services;
  sessions: SessionControl;
  /** Starts erasure workflows; without it (a wiring with no Temporal client) DELETE answers 503. */
  erasure?: ErasureStarter;
}

export function adminUserRouter(deps: AdminUserDeps): Router {
  const { repos } = deps.services;
  const router = Router();

  const adminOnly = (req: Request) => {
    if (req.user!.role !== 'admin') throw new HttpProblem(403, 'Forbidden', 'Only an administrator can manage users (admin only).');
  };
  const userOf = async (req: Request): Promise<Profile> => {
    const profile = await repos.profiles.getByClerkId(String(req.params.userId));
    if (!profile) throw notFound('User');
    return profile;
  };
  const audit = (req: Request, profile: Profile, type: string, data: Record<string, unknown> = {}) =>
    repos.activities.record({
      userId: profile.id,
      type,
      data: { ...data, by: req.user!.userId },
      ipAddress: req.ip,
      userAgent: req.get('user-agent')?.slice(0, 1000),
    });

  const userJson = (p: Profile) => ({
    userId: p.clerkUserId,
    email: p.email,
    name: p.name,
    avatarUrl: p.avatarUrl,
    role: p.role,
    plan: {
      tier: p.subscriptionTier,
      name: tierRules(p.subscriptionTier).name,
      expiresAt: p.subscriptionExpiresAt,
    },
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  });

  router.get('/auth/users/:userId', async (req, res) => {
    adminOnly(req);
    const profile = await userOf(req);
    await audit(req, profile, 'admin_user_viewed');
    res.json(userJson(profile));
  });

  router.put('/auth/users/:userId', async (req, res) => {
    adminOnly(req);
    const body = parseStrict(adminUpdateUserSchema, req.body ?? {}, 'body');
    let profile = await userOf(req);
    const before = userJson(profile);
    if (body.name !== undefined || body.avatarUrl !== undefined) {
      profile = (await repos.profiles.updateDetails(profile.id, { name: body.name, avatarUrl: body.avatarUrl })) ?? profile;
    }
    let signedOut: string[] = [];
    if (body.role && body.role !== profile.role) {
      const { clerk } = deps.sessions;
      if (clerk) {
        try {
          await clerk.users.updateUserMetadata(profile.clerkUserId, { publicMetadata: { role: body.role } });
        } catch {
          throw new HttpProblem(502, 'Bad Gateway', "Clerk's Backend API did not take the new role; nothing about the role changed.");
        }
      }
      const demoted = profile.role === 'admin';
      profile = (await repos.profiles.setRole(profile.clerkUserId, body.role)) ?? profile;
      if (demoted) signedOut = await deps.sessions.revokeAll(profile.clerkUserId, req.user!.userId);
    }
    if (body.plan) {
      profile = (await repos.profiles.setSubscription(profile.clerkUserId, body.plan.tier as SubscriptionTier, body.plan.expiresAt ?? null)) ?? profile;
    }
    const after = userJson(profile);
    const changed = Object.fromEntries(
      (['name', 'avatarUrl', 'role', 'plan'] as const)
        .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
        .map((k) => [k, { from: before[k], to: after[k] }]),
    );
    await audit(req, profile, 'admin_user_updated', { changed, signedOut });
    res.json({ ...after, signedOut });
  });

  // The same erasure as DELETE /v1/users/{id}: the workflow records its own audit entry.
  router.delete('/auth/users/:userId', async (req, res) => {
    adminOnly(req);
    if (!deps.erasure) throw new HttpProblem(503, 'Service Unavailable', 'Erasure is not available here.');
    const started = await eraseUserByAdmin(deps.erasure, deps.services.repos, String(req.params.userId), req.user!.userId);
    if (!started) throw notFound('User');
    res.status(202).json(started);
  });

  return router;
}
