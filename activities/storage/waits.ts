/**
 * File storage that is unreachable (the S3 endpoint refuses or drops connections,
 * answers 5xx, times out) is waited for, not treated as a bug.
 *
 * - Inside an activity, a storage call that finds the store unreachable waits and
 *   tries again, heartbeating, for as long as the attempt can afford (until shortly
 *   before its start-to-close timeout, or `maxWaitMs` on an attempt that is not the
 *   last): what the activity already did (a paid provider call, a rendered PDF) is not
 *   thrown away for an outage. Past that it fails with `StorageUnavailable`, a
 *   retryable error, and Temporal retries the activity.
 * - The book being worked on says so: its row gets `waiting_for` (GET
 *   /v1/ebooks/{id}/status shows `waitingFor`), cleared when storage answers again.
 * - Outside an activity (the API) it fails at once with `StorageUnavailable`, which
 *   the API answers with 503 and Retry-After.
 */
import { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import type { Storage } from './types';

/** The store did not answer; try again later. Retryable (not one of the workflows' ErrorTypes); Temporal names the failure's type after the class. */
export class StorageUnavailable extends Error {
  override readonly name = 'StorageUnavailable';
  readonly code = 'STORAGE_UNAVAILABLE';
  /** What the API tells a client to wait before asking again. */
  readonly retryAfterSeconds = 5;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  // Local files on a network mount, or a full disk: waiting may well help.
  'ESTALE',
  'EIO',
  'ENOSPC',
]);
const SDK_UNAVAILABLE = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'ServiceUnavailable', 'SlowDown', 'InternalError']);

/** Whether `err` says the store could not be reached (as opposed to a missing key or a refused request). */
export function isStorageUnreachable(err: unknown): boolean {
  if (err instanceof StorageUnavailable) return true;
  const e = err as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (typeof e.name === 'string' && SDK_UNAVAILABLE.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

/** A short, address-free reason: it goes into a book's status, which its owner reads. */
function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } };
  if (typeof e?.code === 'string') return e.code;
  if (e?.$metadata?.httpStatusCode) return `HTTP ${e.$metadata.httpStatusCode}`;
  return typeof e?.name === 'string' ? e.name : 'no answer';
}

/** What a book's row says while one of its steps waits for storage. */
export interface StorageWait {
  dependency: 'storage';
  message: string;
  /** The activity that waits (`writeChapter`, `renderPdf`, …). */
  step: string;
}

/** What the worker knows about the activity running in a Context (set by `storageWaitInterceptor`). */
interface Subject {
  startedAt: number;
  waiting(wait: StorageWait): Promise<void>;
  recovered(): Promise<void>;
}
const subjects = new WeakMap<Context, Subject>();

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export interface StorageWaitOptions {
  /**
   * The longest one activity attempt waits before failing for Temporal to retry it, unless
   * it is the last attempt (which waits as long as its timeout allows). Default: no limit
   * but the attempt's own timeout.
   */
  maxWaitMs?: number;
  /** Longest pause between two tries (default 5 s). */
  maxPauseMs?: number;
  /** Told once per outage (an operator's log line); never given addresses by users. */
  onUnreachable?: (err: unknown, op: string) => void;
}

const WRAPPED = ['put', 'get', 'head', 'stream', 'copy', 'delete', 'list', 'deletePrefix', 'presignedUrl'] as const;

/** `storage` with every call waiting for an unreachable store as described above. `ping` is left as it is (readiness). */
export function withStorageWaits<S extends Storage>(storage: S, opts: StorageWaitOptions = {}): S {
  const maxPauseMs = opts.maxPauseMs ?? 5_000;
  let unreachable = false;

  async function call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    let waited = false;
    for (let tries = 0; ; tries++) {
      try {
        const result = await fn();
        unreachable = false;
        const ctx = waited ? currentContext() : undefined;
        if (ctx) await subjects.get(ctx)?.recovered().catch(() => undefined);
        return result;
      } catch (err) {
        if (!isStorageUnreachable(err)) throw err;
        if (!unreachable) {
          unreachable = true;
          opts.onUnreachable?.(err, op);
        }
        const reason = reasonOf(err);
        const ctx = currentContext();
        if (!ctx) throw new StorageUnavailable(`file storage is unreachable (${reason})`, { cause: err });
        // The book says so first, also when this attempt cannot afford to wait at all.
        if (!waited) {
          waited = true;
          const step = ctx.info.activityType;
          await subjects
            .get(ctx)
            ?.waiting({ dependency: 'storage', step, message: `waiting for file storage (unreachable: ${reason}); ${step} is retried until it answers` })
            .catch(() => undefined);
        }
        const pause = Math.min(maxPauseMs, 250 * 2 ** tries);
        if (Date.now() + pause > waitDeadline(ctx, opts.maxWaitMs)) {
          throw new StorageUnavailable(
            `file storage is unreachable (${reason}) during ${op}; ${ctx.info.activityType} is retried until it answers`,
            { cause: err },
          );
        }
        if (!ctx.info.isLocal) ctx.heartbeat({ waitingFor: 'storage' });
        // Rejects when the activity is cancelled: a cancelled book stops waiting.
        await ctx.sleep(pause);
      }
    }
  }

  const wrapped: Storage = { ...storage };
  for (const name of WRAPPED) {
    const fn = storage[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (!fn) continue;
    (wrapped as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => call(name, () => fn.apply(storage, args));
  }
  return wrapped as S;
}

/**
 * Until when this attempt may wait: a margin before its start-to-close (and
 * schedule-to-close) timeout, and at most `maxWaitMs` unless it is the last attempt.
 */
function waitDeadline(ctx: Context, maxWaitMs: number | undefined): number {
  const { info } = ctx;
  const started = subjects.get(ctx)?.startedAt ?? info.currentAttemptScheduledTimestampMs;
  const limits: number[] = [];
  const margin = (ms: number) => Math.max(5_000, ms / 10);
  if (info.startToCloseTimeoutMs > 0) limits.push(started + info.startToCloseTimeoutMs - margin(info.startToCloseTimeoutMs));
  if (info.scheduleToCloseTimeoutMs > 0) {
    limits.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - margin(info.scheduleToCloseTimeoutMs));
  }
  const maxAttempts = info.retryPolicy?.maximumAttempts ?? 0;
  const last = maxAttempts > 0 && info.attempt >= maxAttempts;
  if (maxWaitMs !== undefined && !last) limits.push(Date.now() + maxWaitMs);
  return limits.length ? Math.min(...limits) : Date.now();
}

/** The book an activity works on, from its first argument (`{ ebookId }`, or a manifest naming it). */
function ebookOf(args: unknown[]): string | undefined {
  const first = args[0] as { ebookId?: unknown } | undefined;
  return first && typeof first === 'object' && typeof first.ebookId === 'string' ? first.ebookId : undefined;
}

/** Where the worker records a book's wait: its row (and whatever else the caller wants). */
export interface WaitRecorder {
  setWaitingFor(ebookId: string, wait: StorageWait | null): Promise<unknown>;
}

/**
 * The worker's activity interceptor: tells `withStorageWaits` which book an activity
 * works on, so a wait shows in the book's status; clears the wait when a retried
 * (or waiting) activity completes.
 */
export function storageWaitInterceptor(recorder: WaitRecorder): (ctx: Context) => ActivityInterceptors {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const ebookId = ebookOf(input.args as unknown[]);
        let recorded = false;
        const clear = async () => {
          if (!ebookId) return;
          recorded = false;
          await recorder.setWaitingFor(ebookId, null).catch(() => undefined);
        };
        subjects.set(ctx, {
          startedAt: Date.now(),
          async waiting(wait) {
            if (!ebookId) return;
            recorded = true;
            await recorder.setWaitingFor(ebookId, wait);
          },
          recovered: clear,
        });
        const result = await next(input);
        // A retried attempt may follow one that recorded a wait (possibly on another worker).
        if (recorded || ctx.info.attempt > 1) await clear();
        return result;
      },
    },
  });
}
