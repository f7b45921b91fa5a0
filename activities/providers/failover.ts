/**
 * Failover across an ordered list of providers, driven by Temporal's retries.
 *
 * The activity's attempt number chooses the provider: attempts 1..budget go to
 * the first, the next `budget` attempts to the second, and so on (wrapping
 * around). Nothing here retries a failed call: the failure is thrown and
 * Temporal's retry policy (with the provider's `nextRetryDelay`) decides when the
 * next attempt runs. Only two things move to another provider within one
 * attempt: a `ProviderUnavailable` failure (bad key, quota gone) and a provider
 * whose circuit is open after repeated failures in this process.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ImageProvider, TextProvider } from './types';
import { classifyProviderError, PROVIDER_FAULT_TYPES, ProviderErrorTypes } from './errors';

export interface FailoverOptions {
  /** Attempts given to one provider before the next one is used (default 3). */
  attemptBudget?: number;
  /** Consecutive provider faults that open a provider's circuit (default 5). */
  breakerThreshold?: number;
  /** How long an open circuit stays open (default 30 s). */
  breakerCooldownMs?: number;
  /**
   * Heartbeat interval while a provider call is in flight (default 10 s): a slow
   * model must not look like a dead worker to the activity's heartbeat timeout.
   */
  heartbeatMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** The current activity's attempt number; 1 outside an activity (scripts, plain calls). */
export function currentAttempt(): number {
  try {
    return Context.current().info.attempt || 1;
  } catch {
    return 1;
  }
}

/** Heartbeats the current activity every `ms` until the returned stop is called (no-op outside one). */
function keepAlive(ms: number): () => void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return () => undefined;
  }
  const timer = setInterval(() => ctx.heartbeat(), ms);
  return () => clearInterval(timer);
}

/** A per-provider, in-process circuit breaker: opens after N consecutive faults for a cool-down. */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  /** Why it last opened: an unavailable provider is not worth waiting for. */
  reason: 'faults' | 'unavailable' | undefined;
  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
  ) {}
  isOpen(now: number): boolean {
    return now < this.openUntil;
  }
  /** When an open circuit lets a call through again. */
  get reopensAt(): number {
    return this.openUntil;
  }
  success(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.reason = undefined;
  }
  /** A fault; past the threshold (including a half-open probe that failed) the circuit opens. */
  failure(now: number): void {
    this.failures++;
    if (this.failures >= this.threshold) {
      this.openUntil = now + this.cooldownMs;
      this.reason = 'faults';
    }
  }
  /** The provider cannot serve at all right now: open at once. */
  trip(now: number): void {
    this.failures = Math.max(this.failures, this.threshold);
    this.openUntil = now + this.cooldownMs;
    this.reason = 'unavailable';
  }
}

interface Named {
  readonly name: string;
  readonly offline: boolean;
}

class Failover<P extends Named> {
  readonly breakers: CircuitBreaker[];
  private readonly budget: number;
  private readonly now: () => number;
  private readonly heartbeatMs: number;
  constructor(
    readonly providers: P[],
    opts: FailoverOptions,
  ) {
    if (providers.length === 0) throw new Error('failover needs at least one provider');
    this.budget = Math.max(1, opts.attemptBudget ?? 3);
    this.now = opts.now ?? Date.now;
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.breakers = providers.map(
      () => new CircuitBreaker(Math.max(1, opts.breakerThreshold ?? 5), opts.breakerCooldownMs ?? 30_000),
    );
  }

  get name(): string {
    return this.providers.length === 1 ? this.providers[0].name : `failover(${this.providers.map((p) => p.name).join(',')})`;
  }

  get offline(): boolean {
    return this.providers.every((p) => p.offline);
  }

  /** Which provider this attempt belongs to (0-based). */
  preferred(attempt: number): number {
    return Math.floor((Math.max(1, attempt) - 1) / this.budget) % this.providers.length;
  }

  /** Provider indexes in trying order: the names set by `setOrder` first, the rest as configured. */
  private order: number[] | undefined;

  /** A preferred order (e.g. an admin's switch), by provider name; unknown names are ignored, undefined resets. */
  setOrder(names: readonly string[] | undefined): void {
    if (!names) {
      this.order = undefined;
      return;
    }
    const first = names.map((n) => this.providers.findIndex((p) => p.name === n)).filter((i, k, a) => i >= 0 && a.indexOf(i) === k);
    this.order = [...first, ...this.providers.map((_, i) => i).filter((i) => !first.includes(i))];
  }

  async run<R extends { provider?: string }>(call: (p: P) => Promise<R>): Promise<R> {
    const n = this.providers.length;
    const start = this.preferred(currentAttempt());
    const order = this.order;
    const passed: string[] = [];
    for (let k = 0; k < n; k++) {
      const i = order ? order[(start + k) % n] : (start + k) % n;
      const p = this.providers[i];
      const breaker = this.breakers[i];
      if (breaker.isOpen(this.now())) {
        passed.push(`${p.name}: circuit open (${breaker.reason})`);
        continue;
      }
      const stopBeating = keepAlive(this.heartbeatMs);
      try {
        const result = await call(p);
        breaker.success();
        return { ...result, provider: result.provider ?? p.name };
      } catch (err) {
        const failure = classifyProviderError(err, p.name);
        if (!(failure instanceof ApplicationFailure)) throw failure; // cancelled: not the provider's fault
        if (failure.type === ProviderErrorTypes.ProviderUnavailable) {
          breaker.trip(this.now());
          passed.push(failure.message);
          continue;
        }
        if (failure.type && PROVIDER_FAULT_TYPES.has(failure.type)) breaker.failure(this.now());
        throw failure;
      } finally {
        stopBeating();
      }
    }
    // No provider could be called in this attempt.
    const waiting = this.breakers.filter((b) => b.isOpen(this.now()) && b.reason === 'faults');
    if (waiting.length > 0) {
      // Some are only cooling down: retry when the first circuit lets calls through again.
      const delay = Math.max(1000, Math.min(...waiting.map((b) => b.reopensAt)) - this.now());
      throw ApplicationFailure.create({
        message: `no provider available now: ${passed.join('; ')}`,
        type: ProviderErrorTypes.ProviderError,
        nextRetryDelay: delay,
        details: [{ provider: this.name }],
      });
    }
    throw ApplicationFailure.create({
      message: `every provider is unavailable: ${passed.join('; ')}`,
      type: ProviderErrorTypes.ProviderUnavailable,
      nonRetryable: true,
      details: [{ provider: this.name }],
    });
  }
}

export type FailoverTextProvider = TextProvider & { readonly breakers: CircuitBreaker[]; setOrder(names: readonly string[] | undefined): void };
export type FailoverImageProvider = ImageProvider & { readonly breakers: CircuitBreaker[]; setOrder(names: readonly string[] | undefined): void };

export function createFailoverTextProvider(providers: TextProvider[], opts: FailoverOptions = {}): FailoverTextProvider {
  const f = new Failover(providers, opts);
  return {
    name: f.name,
    offline: f.offline,
    breakers: f.breakers,
    setOrder: (names) => f.setOrder(names),
    writeOutline: (brief, signal) => f.run((p) => p.writeOutline(brief, signal)),
    writeChapter: (req, onText, signal) => f.run((p) => p.writeChapter(req, onText, signal)),
  };
}

export function createFailoverImageProvider(providers: ImageProvider[], opts: FailoverOptions = {}): FailoverImageProvider {
  const f = new Failover(providers, opts);
  return {
    name: f.name,
    offline: f.offline,
    breakers: f.breakers,
    setOrder: (names) => f.setOrder(names),
    generateImage: (req, signal) => f.run((p) => p.generateImage(req, signal)),
  };
}
