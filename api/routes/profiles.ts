/**
 * A user's own details, preferences, activity, analytics and permissions, and the
 * caller's session: what a profile page and a client's "may I?" checks read.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Services } from '../../wiring/services';
import type { Profile } from '../../db/repositories';
import { isEraId, ERAS } from '../../core/eras';
import { allowancePeriod, tierRules } from '../../core/tiers';
import { HttpProblem } from '../problem';
import { parseStrict } from './helpers/request';
import { subjectProfile } from './helpers/users';
import { chapterCountSchema } from '../../core/brief';
import type { ProfileAnswer } from '../schemas/users';

const BCP47 = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/;

export const updateProfileSchema = z
  .strictObject({
    name: z.string().trim().max(255, 'must be at most 255 characters').nullable().optional(),
    avatarUrl: z
      .url({ protocol: /^https$/, message: 'must be an https URL' })
      .max(2000, 'must be at most 2000 characters')
      .nullable()
      .optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'must change name or avatarUrl' })
  .meta({ minProperties: 1 });

/** The preferences the product knows; a null value removes one. Unknown keys are refused, so typos surface. */
export const preferencesSchema = z.strictObject({
  defaultEra: z
    .string()
    .refine(isEraId, { message: `must be one of ${ERAS.map((e) => e.id).join(', ')}` })
    .meta({ enum: ERAS.map((e) => e.id) })
    .nullable()
    .optional(),
  defaultStyle: z.string().trim().max(100, 'must be at most 100 characters').nullable().optional(),
  defaultChapterCount: chapterCountSchema.nullable().optional(),
  language: z.string().regex(BCP47, 'must be a BCP 47 language tag such as "en"').nullable().optional(),
  emailNotifications: z.boolean('must be true or false').nullable().optional(),
});
const PREFERENCES_MAX_BYTES = 16 * 1024;

/** Client events a user may record about themselves; domain events (book started...) are recorded by the server only. */
export const CLIENT_ACTIVITY_TYPES = ['page_view', 'share', 'download', 'story_view', 'ebook_view', 'search', 'feedback'] as const;
const ACTIVITY_DATA_MAX_BYTES = 4 * 1024;

export const activitySchema = z.strictObject({
  type: z.enum(CLIENT_ACTIVITY_TYPES, { message: `must be one of ${CLIENT_ACTIVITY_TYPES.join(', ')}` }),
  data: z
    .record(z.string(), z.unknown())
    .refine((d) => Buffer.byteLength(JSON.stringify(d)) <= ACTIVITY_DATA_MAX_BYTES, { message: 'must be at most 4 kB as JSON' })
    .optional(),
});

export const activityQuerySchema = z.object({
  limit: z.coerce.number().int('must be an integer').min(1, 'must be 1-200').max(200, 'must be 1-200').default(50),
});

export const PERMISSIONS = ['ebook:create', 'export:print', 'queue:priority', 'admin'] as const;
type Permission = (typeof PERMISSIONS)[number];

export const permissionCheckSchema = z.strictObject({
  permission: z.enum(PERMISSIONS, { message: `must be one of ${PERMISSIONS.join(', ')}` }),
  userId: z.string().min(1).max(255).optional(),
});

/** A user's own details, preferences, activity, analytics and permissions: `me` or their Clerk id (admins: anyone's). */
export function profileRouter(services: Services): Router {
  const { repos } = services;
  const router = Router();

  const profileJson = (p: Profile): ProfileAnswer => ({
    userId: p.clerkUserId,
    email: p.email,
    name: p.name,
    avatarUrl: p.avatarUrl,
    role: p.role,
    subscriptionTier: p.subscriptionTier,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  });

  router.get('/users/:userId/profile', async (req, res) => {
    res.json(profileJson(await subjectProfile(services, req)));
  });

  router.put('/users/:userId/profile', async (req, res) => {
    const body = parseStrict(updateProfileSchema, req.body ?? {}, 'body');
    const profile = await subjectProfile(services, req);
    const updated = await repos.profiles.updateDetails(profile.id, body);
    res.json(profileJson(updated ?? profile));
  });

  router.get('/users/:userId/preferences', async (req, res) => {
    res.json((await subjectProfile(services, req)).preferences);
  });

  router.put('/users/:userId/preferences', async (req, res) => {
    if (Buffer.byteLength(JSON.stringify(req.body ?? {})) > PREFERENCES_MAX_BYTES) {
      throw new HttpProblem(413, 'Payload Too Large', 'body: preferences must be at most 16 kB as JSON');
    }
    const body = parseStrict(preferencesSchema, req.body ?? {}, 'body');
    const profile = await subjectProfile(services, req);
    const updated = await repos.profiles.mergePreferences(profile.id, body);
    res.json(updated?.preferences ?? {});
  });

  router.post('/users/:userId/activity', async (req, res) => {
    const body = parseStrict(activitySchema, req.body ?? {}, 'body');
    const profile = await subjectProfile(services, req);
    await repos.activities.record({
      userId: profile.id,
      type: body.type,
      data: body.data ?? {},
      ipAddress: req.ip,
      userAgent: req.get('user-agent')?.slice(0, 1000),
    });
    res.status(201).json({ recorded: true, type: body.type });
  });

  router.get('/users/:userId/activity', async (req, res) => {
    const q = parseStrict(activityQuerySchema, req.query, 'query');
    const profile = await subjectProfile(services, req);
    const items = await repos.activities.listForUser(profile.id, q.limit);
    res.json({ items: items.map((a) => ({ id: a.id, type: a.type, data: a.data, createdAt: a.createdAt })) });
  });

  router.get('/users/:userId/analytics', async (req, res) => {
    const profile = await subjectProfile(services, req);
    const a = await repos.analytics.ofUser(profile.id);
    res.json({
      userId: profile.clerkUserId,
      books: { total: Object.values(a.booksByStatus).reduce((x, y) => x + y, 0), byStatus: a.booksByStatus },
      wordsWritten: a.wordsWritten,
      images: a.images,
      stories: a.stories,
      storyViews: a.storyViews,
      spendUsd: a.spendUsd,
    });
  });

  /** What a user's role and plan allow, with the reason, so clients can explain a refusal. */
  async function permissionsOf(profile: Profile, role: string) {
    const rules = tierRules(profile.subscriptionTier);
    const period = allowancePeriod();
    const used = await repos.usage.used(profile.id, period);
    const remaining = rules.ebooksPerMonth === null ? null : Math.max(rules.ebooksPerMonth - used, 0);
    const checks: Record<Permission, { allowed: boolean; reason: string }> = {
      'ebook:create':
        remaining === null
          ? { allowed: true, reason: `The ${rules.name} plan has no monthly limit` }
          : remaining > 0
            ? { allowed: true, reason: `${remaining} of ${rules.ebooksPerMonth} ebook(s) left this month` }
            : { allowed: false, reason: `The ${rules.name} plan's ${rules.ebooksPerMonth} ebook(s) this month are used` },
      'export:print': rules.printReady
        ? { allowed: true, reason: `The ${rules.name} plan includes print-ready exports` }
        : { allowed: false, reason: `The ${rules.name} plan does not include print-ready exports` },
      'queue:priority': rules.priorityQueue
        ? { allowed: true, reason: `The ${rules.name} plan includes the priority queue` }
        : { allowed: false, reason: `The ${rules.name} plan does not include the priority queue` },
      admin: role === 'admin' ? { allowed: true, reason: 'The user is an administrator' } : { allowed: false, reason: 'The user is not an administrator' },
    };
    return { rules, period, used, remaining, checks };
  }

  /** The role: the verified token's for the caller, the last one recorded for anyone else. */
  const roleOf = (req: Request, profile: Profile) => (profile.clerkUserId === req.user!.userId ? req.user!.role : profile.role);

  router.get('/auth/permissions/:userId', async (req, res) => {
    const profile = await subjectProfile(services, req);
    const role = roleOf(req, profile);
    const p = await permissionsOf(profile, role);
    res.json({
      userId: profile.clerkUserId,
      role,
      tier: profile.subscriptionTier,
      tierName: p.rules.name,
      ebooksPerMonth: p.rules.ebooksPerMonth,
      usedThisPeriod: p.used,
      remainingThisPeriod: p.remaining,
      watermark: p.rules.watermark,
      permissions: Object.fromEntries(Object.entries(p.checks).map(([k, v]) => [k, v.allowed])),
    });
  });

  router.post('/auth/permissions/check', async (req, res) => {
    const body = parseStrict(permissionCheckSchema, req.body ?? {}, 'body');
    const caller = req.user!;
    const asked = body.userId && body.userId !== 'me' ? body.userId : caller.userId;
    if (asked !== caller.userId && caller.role !== 'admin') {
      throw new HttpProblem(403, 'Forbidden', "Only an administrator can check another user's permissions.");
    }
    const profile =
      asked === caller.userId
        ? await repos.profiles.ensure({ clerkUserId: caller.userId, role: caller.role })
        : await repos.profiles.getByClerkId(asked);
    if (!profile) throw new HttpProblem(404, 'Not Found', 'User not found');
    const p = await permissionsOf(profile, roleOf(req, profile));
    res.json({ userId: profile.clerkUserId, permission: body.permission, ...p.checks[body.permission] });
  });

  router.get('/auth/session', (req, res) => {
    // the auth handlers have already verified the bearer token; this echoes what it established.
    const u = req.user!;
    res.json({ userId: u.userId, role: u.role, sessionId: u.sessionId ?? null });
  });

  return router;
}
