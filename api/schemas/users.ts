/**
 * What the user routes answer (plan and profile), as zod schemas the routes type
 * their answers with and api/openapi.ts documents.
 */
import { z } from 'zod';
import { TIERS } from '../../core/tiers';
import type { SubscriptionTier } from '../../db/repositories';

const tier = z.enum(Object.keys(TIERS) as [SubscriptionTier, ...SubscriptionTier[]]);

export const subscriptionAnswerSchema = z
  .object({
    userId: z.string().describe('Clerk user id'),
    tier,
    name: z.string().describe("The plan's name as people see it (free is Debut)"),
    expiresAt: z.string().nullable(),
    ebooksPerMonth: z.int().nullable().describe('null: unlimited'),
    period: z.string().describe('The allowance period, YYYY-MM (UTC)'),
    usedThisPeriod: z.int().min(0),
    remainingThisPeriod: z.int().min(0).nullable(),
    watermark: z.boolean(),
    printReady: z.boolean(),
    priorityQueue: z.boolean(),
  })
;

export const profileAnswerSchema = z
  .object({
    userId: z.string(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    avatarUrl: z.string().nullable(),
    role: z.string(),
    subscriptionTier: tier,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
;

export type Subscription = z.infer<typeof subscriptionAnswerSchema>;
export type ProfileAnswer = z.infer<typeof profileAnswerSchema>;
