import express, { Router } from 'express';
import { verifyWebhook } from '@clerk/express/webhooks';
import type { Services } from '../../wiring/services';
import type { Logger } from '../../lib/logger';
import { HttpProblem } from '../problem';
import { findUnsafeText } from '../safe-text';
import { startUserErasure, type ErasureStarter } from '../services/erasure';

interface ClerkUser {
  id: string;
  first_name?: string | null;
  last_name?: string | null;
  image_url?: string | null;
  primary_email_address_id?: string | null;
  email_addresses?: Array<{ id: string; email_address: string }>;
}

/**
 * Clerk's user webhooks (signed by Svix): user.created|updated|deleted keep
 * profiles in step with the identity provider. Handled once per event id, so
 * Svix's redeliveries change nothing. user.deleted starts the user's erasure
 * (workflows/erase.ts): runs cancelled, rows and stored files deleted.
 */
export function clerkWebhookRouter(deps: {
  services: Services;
  signingSecret?: string;
  log: Logger;
  /** Where user.deleted starts the erasure workflow; without it, user.deleted answers 503 (Svix retries). */
  erasure?: ErasureStarter;
}): Router {
  const { repos, knex } = deps.services;
  const router = Router();
  // The signature covers the exact bytes, so this route reads the raw body.
  router.post('/auth/clerk/webhook', express.raw({ type: '*/*', limit: '256kb' }), async (req, res) => {
    if (!deps.signingSecret) {
      throw new HttpProblem(503, 'Service Unavailable', 'Webhooks are not configured (CLERK_WEBHOOK_SIGNING_SECRET is unset).');
    }
    let event;
    try {
      event = await verifyWebhook(req, { signingSecret: deps.signingSecret });
    } catch {
      throw new HttpProblem(400, 'Invalid signature', 'The webhook signature is missing, wrong or too old.');
    }
    // Signed, but still text PostgreSQL cannot store: refused like any request's.
    const unsafe = findUnsafeText(event, 'body');
    if (unsafe) throw new HttpProblem(400, 'Invalid request', `${unsafe.field}: ${unsafe.message}`, { errors: [unsafe] });
    const eventId = req.get('svix-id')!;
    const fresh = await knex.raw(
      `INSERT INTO webhook_events (id, type) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id`,
      [eventId, event.type],
    );
    if (fresh.rows.length === 0) {
      res.json({ received: true, duplicate: true });
      return;
    }
    try {
      if (event.type === 'user.created' || event.type === 'user.updated') {
        const u = event.data as unknown as ClerkUser;
        const email = u.email_addresses?.find((e) => e.id === u.primary_email_address_id)?.email_address ?? null;
        const name = [u.first_name, u.last_name].filter(Boolean).join(' ') || null;
        const { profile, created } = await repos.profiles.upsertIdentity({
          clerkUserId: u.id,
          email,
          name,
          avatarUrl: u.image_url ?? null,
        });
        if (created) {
          await repos.activities.record({
            userId: profile.id,
            type: 'user_registered',
            data: { via: 'clerk', eventId },
            dedupeKey: `user_registered:${u.id}`,
          });
        }
      } else if (event.type === 'user.deleted') {
        const id = (event.data as { id?: string }).id;
        if (id) {
          if (!deps.erasure) throw new HttpProblem(503, 'Service Unavailable', 'Erasure is not available here.');
          await startUserErasure(deps.erasure, {
            clerkUserId: id,
            requestedBy: 'clerk',
            source: 'clerk-webhook',
            requestedAt: new Date().toISOString(),
          });
        }
      }
    } catch (err) {
      // Let Svix deliver it again: the event is not handled.
      await knex('webhook_events').where({ id: eventId }).delete();
      throw err;
    }
    deps.log.info({ eventId, type: event.type }, 'clerk webhook handled');
    res.json({ received: true });
  });
  return router;
}
