/**
 * What every activity that calls a provider shares: heartbeats and cancellation,
 * the admin's provider order, the cost ledger (per book, or per user for calls
 * that belong to no book), the provider failure log and content moderation.
 * The book activities (index.ts), the story activities and the AI activities
 * are all built over one of these.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { cachedProviderOrder } from '../db/ledger';
import { isConnectionLoss } from '../db/errors';
import { createLogger } from '../lib/logger';
import { moderateText, type ModerationResult } from './moderation';
import { ContentRefusedError, ModeratedStream } from './moderated-stream';
import { partialSpendOf } from './providers/errors';
import type { CircuitBreaker } from './providers/failover';
import { recordProviderSpend, timeProviderCall } from '../lib/worker-metrics';
import { ErrorTypes } from '../workflows/shared';
import type { ActivityDeps } from './deps';
import type { Usage } from '../core/pricing';

/** Who a call that belongs to no book is for: the user's profile, and the story when there is one. */
export interface CallOwner {
  profileId: string;
  storyId?: string;
}

export function createProviderCalls(deps: ActivityDeps) {
  const { events } = deps;

  // Per running activity, when it first asked to beat and when a beat last went out. The first
  // `quietMs` pass without a heartbeat, so a step that ends within them sends none (see
  // ActivityDeps.heartbeatQuietMs); after that at most one a second goes into the SDK: a call
  // per streamed delta cost a payload conversion each, and Temporal throttles them anyway.
  const quietMs = deps.heartbeatQuietMs ?? 1000;
  const beats = new WeakMap<Context, { first: number; last?: number }>();
  const heartbeat = (details?: unknown) => {
    let ctx: Context;
    try {
      ctx = Context.current();
    } catch {
      return; // Outside an activity (plain function calls in scripts) there is nothing to beat.
    }
    // A local activity (the prompt's moderation) has no heartbeats: the server knows no such task.
    if (ctx.info.isLocal) return;
    const now = Date.now();
    let b = beats.get(ctx);
    if (!b) beats.set(ctx, (b = { first: now }));
    if (now - b.first < quietMs) return;
    if (b.last !== undefined && now - b.last < 1000) return;
    b.last = now;
    ctx.heartbeat(details);
  };
  const signal = (): AbortSignal | undefined => {
    try {
      return Context.current().cancellationSignal;
    } catch {
      return undefined;
    }
  };

  const { ledger } = deps.repos;
  let reuseLog: ReturnType<typeof createLogger> | undefined;
  const providerOrder = cachedProviderOrder(ledger, deps.providerOrderTtlMs ?? 10_000);
  const moderate = deps.moderate ?? moderateText;

  /**
   * The ledger key of one real provider call. It names the attempt: a retry that
   * called the provider again spent again and is counted, while recording the same
   * call twice within one attempt is not (replays never re-run activities).
   * Outside an activity there is no attempt identity, so every call counts.
   */
  const callKey = (subjectId: string, step: string, index?: number) => {
    try {
      const info = Context.current().info;
      return `${info.workflowExecution?.workflowId ?? subjectId}:${info.activityId}:${info.attempt}:${step}:${index ?? ''}`;
    } catch {
      return `direct:${subjectId}:${step}:${index ?? ''}:${randomUUID()}`;
    }
  };

  /** The running activity's identity, for its kept results; undefined outside an activity. */
  const activityIdentity = () => {
    try {
      const info = Context.current().info;
      if (info.isLocal || !info.workflowExecution) return undefined;
      return { workflowId: info.workflowExecution.workflowId, runId: info.workflowExecution.runId, activityId: info.activityId, attempt: info.attempt };
    } catch {
      return undefined;
    }
  };

  /**
   * A book's call: its event and its ledger row commit together (a worker killed,
   * or a database lost, between two separate writes left an event without its row).
   * `kept` is what the call returned (a chapter's text, where a picture was stored): it
   * goes into the same row, so a retry of this activity finds it with `paidEarlier`
   * and does not pay for it again.
   */
  const recordCall = async (
    ebookId: string,
    step: string,
    provider: string,
    model: string,
    usage: Usage,
    index?: number,
    kept?: unknown,
  ) => {
    const event = { step, index, provider, model, usage };
    recordProviderSpend(step, provider, model, usage);
    const id = activityIdentity();
    // Tagged with the workflow run: a reset run numbers its activities afresh, and must not take an old run's result.
    const result = kept !== undefined && id ? { runId: id.runId, value: kept } : undefined;
    const entry = { ebookId, step, chapterIndex: index ?? null, provider, model, usage, idempotencyKey: callKey(ebookId, step, index), result };
    // The first error inside the transaction: when the connection died under it, knex
    // rejects with the ROLLBACK's failure instead, which hides the cause.
    let cause: unknown;
    try {
      await deps.repos.transaction(async (trx) => {
        try {
          const { inserted } = await ledger.record(entry, trx);
          // A second record of the same call (same key) adds neither a row nor an event.
          if (inserted) await events.publish(ebookId, 'provider.call', event, trx);
        } catch (err) {
          cause = err;
          throw err;
        }
      });
    } catch (err) {
      throw databaseLost(err, cause, `recording the ${step} call`) ?? err;
    }
  };

  /**
   * What an earlier attempt of the running activity was paid for and kept (recordCall's
   * `kept`), for its `step` (chapter `index`): an attempt that recorded its call and then
   * failed (a write after it lost the database, the worker was killed) is retried, and the
   * retry reuses the result instead of calling the provider again. Undefined on a first
   * attempt, outside an activity, or when nothing was kept.
   */
  const paidEarlier = async <T>(ebookId: string, step: string, index?: number): Promise<{ provider: string; model: string; value: T } | undefined> => {
    const id = activityIdentity();
    if (!id || id.attempt <= 1) return undefined;
    const prefix = `${id.workflowId}:${id.activityId}:`;
    const found = await ledger.paidResult<{ runId?: string; value?: T }>(ebookId, prefix, step, index ?? null);
    if (!found || found.result.runId !== id.runId || found.result.value === undefined) return undefined;
    // The same activity's key: `prefix` then its attempt, which must be an earlier one.
    const attempt = Number(found.idempotencyKey.slice(prefix.length).split(':')[0]);
    if (!(attempt < id.attempt)) return undefined;
    // A warning: it follows a failed attempt, and shows where workers log warnings only (the cluster's LOG_LEVEL=warn).
    (reuseLog ??= createLogger('provider-calls')).warn(
      { ebookId, step, index, workflowId: id.workflowId, activityId: id.activityId, attempt: id.attempt, paidOnAttempt: attempt },
      `reusing the ${step} result paid for on attempt ${attempt}: the provider is not called again`,
    );
    return { provider: found.provider, model: found.model, value: found.result.value };
  };

  /**
   * A lost database connection (PostgreSQL restarting) as a retryable failure naming
   * the server's own error; undefined for anything else. Nothing was committed: the
   * server rolled the transaction back with the connection, so the retry records anew.
   */
  const databaseLost = (err: unknown, cause: unknown, what: string) => {
    const first = cause ?? err;
    if (!isConnectionLoss(err) && !isConnectionLoss(first)) return undefined;
    // knex puts the statement before the server's message ("INSERT … - terminating connection …").
    const detail = (e: unknown) => `${(e as { code?: string }).code ?? ''} ${String((e as Error).message).split(' - ').pop()}`.trim();
    return ApplicationFailure.retryable(
      `${what} failed: the database connection was lost (${detail(first)}${first !== err ? `; then ${detail(err)}` : ''})`,
      'DatabaseUnavailable',
    );
  };

  /** A call that belongs to no book goes into the ledger under the user (and story). */
  const recordOwnedCall = async (owner: CallOwner, step: string, provider: string, model: string, usage: Usage, index?: number) => {
    recordProviderSpend(step, provider, model, usage);
    await ledger.recordUnbooked({
      userId: owner.profileId,
      storyId: owner.storyId,
      step,
      chapterIndex: index ?? null,
      provider,
      model,
      usage,
      idempotencyKey: callKey(owner.storyId ?? owner.profileId, step, index),
    });
  };

  /** A provider's faults are fixed (an admin said so, or an operator reset a book): calls go through again. */
  const closeLocalBreakers = () => {
    for (const p of [deps.text, deps.image]) (p as { breakers?: CircuitBreaker[] }).breakers?.forEach((b) => b.success());
  };
  let breakersClosedAt: string | undefined;
  let orderRead = false;
  /** Closes this worker's breakers now and every other worker's at its next read of the provider order. */
  const closeBreakers = async () => {
    breakersClosedAt = await ledger.closeBreakers();
    closeLocalBreakers();
  };

  /** Applies the admin's persisted order (cached) to the failover providers before a call. */
  const applyProviderOrder = async () => {
    const order = await providerOrder();
    if (order.breakersClosedAt && order.breakersClosedAt > (breakersClosedAt ?? '')) {
      // The first read only notes the time: a starting worker's breakers are closed anyway.
      if (orderRead) closeLocalBreakers();
      breakersClosedAt = order.breakersClosedAt;
    }
    orderRead = true;
    (deps.text as { setOrder?: (n?: readonly string[]) => void }).setOrder?.(order.text);
    (deps.image as { setOrder?: (n?: readonly string[]) => void }).setOrder?.(order.image);
  };

  /** Runs a provider call; a provider's failure also goes into the failure log for the status page. */
  const tracked = async <T>(ebookId: string | undefined, step: string, fallback: string, fn: () => Promise<T>): Promise<T> => {
    await applyProviderOrder();
    try {
      return await timeProviderCall(step, fallback, fn);
    } catch (err) {
      if (err instanceof ApplicationFailure) {
        const provider = (err.details?.[0] as { provider?: string } | undefined)?.provider ?? fallback;
        await ledger
          .recordFailure({ provider, ebookId, step, errorType: err.type ?? undefined, message: err.message })
          .catch(() => undefined); // the status page is not worth failing a book over
      }
      throw err;
    }
  };

  /** The non-retryable ContentRefused failure for a moderation verdict. */
  const refusal = (verdict: ModerationResult, what: string) =>
    ApplicationFailure.nonRetryable(
      `${what} was refused by content moderation (${verdict.source}: ${verdict.categories.join(', ') || 'flagged'})`,
      ErrorTypes.ContentRefused,
      { categories: verdict.categories, source: verdict.source },
    );

  /** Throws the non-retryable ContentRefused when moderation flags `text`. */
  const refuseIfFlagged = async (text: string, what: string) => {
    const verdict = await moderate(text, signal());
    if (verdict.flagged) throw refusal(verdict, what);
  };

  /**
   * A streamed text call (a chapter, a story's section) whose text reaches readers only
   * once moderation passed it, piece by piece and in order (see ModeratedStream). A
   * refused piece aborts the provider's stream there, so nothing more is spent. The spend
   * goes to `record`, also for a stream cut short: the tokens streamed until then were
   * paid for. Throws the ContentRefused failure when any of the text is refused, after
   * recording, so a refused text is never stored.
   */
  const writeModerated = async <R extends StreamedText>(opts: {
    /** The book, for the provider failure log (none for a story). */
    ebookId?: string;
    step: string;
    /** The provider's name when the result names none. */
    provider: string;
    /** What is written, for the refusal's message ("chapter 3"). */
    what: string;
    heartbeatDetails?: unknown;
    publish: (piece: string) => Promise<unknown>;
    /** `result` is the whole text, when the provider finished (not for a stream cut short). */
    record: (provider: string, model: string, usage: Usage, result?: R) => Promise<void>;
    call: (onText: (delta: string) => void, signal: AbortSignal) => Promise<R>;
    /**
     * A text already paid for (an earlier attempt's, see `paidEarlier`): it goes through
     * moderation and out to readers as a streamed one would, without calling the provider
     * or recording anything.
     */
    reuse?: R;
  }): Promise<R> => {
    const stop = new AbortController();
    const activitySignal = signal();
    const providerSignal = activitySignal ? AbortSignal.any([activitySignal, stop.signal]) : stop.signal;
    const moderated = new ModeratedStream({
      moderate: (text) => moderate(text, activitySignal),
      publish: (piece) => opts.publish(piece).then(() => undefined),
      onRefused: (verdict, err) => stop.abort(verdict ? refusal(verdict, opts.what) : err),
    });
    const onText = (delta: string) => {
      heartbeat(opts.heartbeatDetails);
      moderated.push(delta);
    };
    if (opts.reuse) {
      const kept = opts.reuse;
      // Paragraph by paragraph, as the provider streamed it; the earlier attempt may have
      // failed before moderation passed all of it, so it is all checked again.
      kept.paragraphs.forEach((p, i) => moderated.push(i === 0 ? p : `\n\n${p}`));
      try {
        await moderated.finish(kept.paragraphs.join('\n\n'));
      } catch (err) {
        throw err instanceof ContentRefusedError ? refusal(err.verdict, opts.what) : err;
      }
      return kept;
    }
    let result: R;
    try {
      result = await tracked(opts.ebookId, opts.step, opts.provider, () => opts.call(onText, providerSignal));
    } catch (err) {
      if (!providerSignal.aborted) throw err;
      // Cut short (by moderation, or the activity was cancelled).
      const spend = partialSpendOf(providerSignal.reason);
      if (spend) await opts.record(spend.provider, spend.model, spend.usage);
      if (activitySignal?.aborted) throw err;
      await moderated.settle();
      throw stop.signal.reason;
    }
    await opts.record(result.provider ?? opts.provider, result.model, result.usage, result);
    try {
      await moderated.finish(result.paragraphs.join('\n\n'));
    } catch (err) {
      throw err instanceof ContentRefusedError ? refusal(err.verdict, opts.what) : err;
    }
    return result;
  };

  return { heartbeat, signal, recordCall, paidEarlier, recordOwnedCall, tracked, refuseIfFlagged, refusal, moderate, writeModerated, closeBreakers };
}

/** What a streamed text call returns. */
interface StreamedText {
  paragraphs: string[];
  /** Behind a failover, the provider that actually wrote it. */
  provider?: string;
  model: string;
  usage: Usage;
}

export type ProviderCalls = ReturnType<typeof createProviderCalls>;
