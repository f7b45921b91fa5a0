/**
 * The user a `/users/{userId}/...` route is about: `me` or a Clerk user id the
 * caller may see (themselves; anyone for an admin). Everyone else is a 404.
 */
import type { Request } from 'express';
import type { Services } from '../../../wiring/services';
import type { Profile } from '../../../db/repositories';
import { notFound } from '../../problem';

/** Resolves `me` or a Clerk user id the caller may see (themselves; anyone for an admin), else 404. */
export async function subjectProfile(services: Pick<Services, 'repos'>, req: Request): Promise<Profile> {
  const caller = req.user!;
  const userId = req.params.userId === 'me' ? caller.userId : String(req.params.userId);
  if (userId !== caller.userId && caller.role !== 'admin') throw notFound('User');
  const profile =
    userId === caller.userId
      ? await services.repos.profiles.ensure({ clerkUserId: caller.userId, role: caller.role })
      : await services.repos.profiles.getByClerkId(userId);
  if (!profile) throw notFound('User');
  return profile;
}
