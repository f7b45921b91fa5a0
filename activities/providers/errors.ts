/**
 * Turns whatever an SDK throws (openai / groq-sdk `APIError`s, fetch and socket
 * errors, the Runware SDK's plain `{ error: {...} }` objects and timeout strings)
 * into one Temporal `ApplicationFailure`, so Temporal owns every retry decision:
 * the SDKs run with their own retries off.
 */
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';

/** Failure types produced here (the workflow lists the non-retryable ones by name). */
export const ProviderErrorTypes = {
  /** 429 without a quota problem: retry, after `Retry-After` when given. */
  RateLimited: 'RateLimited',
  /** 5xx, 408, 409: the provider failed this time. */
  ProviderError: 'ProviderError',
  ProviderTimeout: 'ProviderTimeout',
  ProviderConnection: 'ProviderConnection',
  /** Bad key, no permission, quota exhausted, model missing: the failover skips this provider. */
  ProviderUnavailable: 'ProviderUnavailable',
  /** The request itself is wrong: no retry (and no other provider) will fix it. */
  BadInput: 'BadInput',
  /** The provider refused the content (moderation, safety system). */
  ContentRefused: 'ContentRefused',
  /** The model kept answering with an outline that does not fit the brief. */
  InvalidOutline: 'InvalidOutline',
} as const;

/**
 * Failure types that count against a provider's circuit breaker: the provider's
 * fault, not the request's. A rate limit is not counted: the provider said when
 * to come back, and Temporal's retry waits that long (`nextRetryDelay`).
 */
export const PROVIDER_FAULT_TYPES: ReadonlySet<string> = new Set([
  ProviderErrorTypes.ProviderError,
  ProviderErrorTypes.ProviderTimeout,
  ProviderErrorTypes.ProviderConnection,
  ProviderErrorTypes.ProviderUnavailable,
]);

/** What every failure carries in `details[0]`, so operators see which provider failed how. */
export interface ProviderFailureDetails {
  provider: string;
  status?: number;
  code?: string;
}

const REFUSAL_CODES = /content.?policy|content.?filter|moderat|safety|nsfw|refus/i;
const QUOTA_CODES = /insufficient_quota|quota_exceeded|billing|insufficientCredits|credits/i;
const AUTH_CODES = /invalidApiKey|invalid_api_key|unauthori[sz]ed|forbidden|permission/i;

type HeaderBag = Headers | Record<string, string | string[] | undefined> | undefined;

function header(headers: HeaderBag, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The delay the provider asked for, in ms: `retry-after-ms` (OpenAI) first, then
 * `Retry-After` as seconds or an HTTP date. Undefined when absent or unreadable.
 */
export function retryAfterMs(headers: HeaderBag, now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const ra = header(headers, 'retry-after');
  if (ra === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Math.ceil(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The pieces of an SDK error this module cares about, whatever its shape. */
function inspect(err: unknown): {
  status?: number;
  code?: string;
  message: string;
  headers?: HeaderBag;
  kind: 'timeout' | 'connection' | 'abort' | 'other';
} {
  if (typeof err === 'string') {
    // The Runware SDK rejects with bare strings when a response never came.
    const timeout = /could not be received|timed? ?out/i.test(err);
    return { message: err, kind: timeout ? 'timeout' : 'other' };
  }
  if (!err || typeof err !== 'object') return { message: String(err), kind: 'other' };
  const e = err as Record<string, any>;
  // Runware: `{ error: { code, message, ... } }` (a plain object, not an Error).
  if (!(err instanceof Error) && e.error && typeof e.error === 'object') {
    const inner = e.error as Record<string, unknown>;
    return {
      code: str(inner.code),
      status: typeof inner.status === 'number' ? inner.status : undefined,
      message: str(inner.message) ?? JSON.stringify(inner),
      kind: 'other',
    };
  }
  const name = String(e.constructor?.name ?? e.name ?? '');
  const causeCode = str(e.cause?.code) ?? str(e.code);
  const body = (e.error && typeof e.error === 'object' ? e.error : undefined) as Record<string, unknown> | undefined;
  const code =
    str(e.code) ?? str(body?.code) ?? str(body?.type) ?? str((body?.error as any)?.code) ?? str(e.type);
  const status = typeof e.status === 'number' ? e.status : undefined;
  let kind: 'timeout' | 'connection' | 'abort' | 'other' = 'other';
  if (name === 'APIUserAbortError' || e.name === 'AbortError') kind = 'abort';
  else if (
    /Timeout/i.test(name) ||
    causeCode === 'ETIMEDOUT' ||
    causeCode === 'UND_ERR_HEADERS_TIMEOUT' ||
    /timed out/i.test(String(e.message ?? ''))
  ) {
    kind = 'timeout';
  }
  else if (
    /ConnectionError/.test(name) ||
    /^(ECONNRESET|ECONNREFUSED|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTDOWN|UND_ERR_SOCKET)$/.test(causeCode ?? '') ||
    /socket hang up|terminated|other side closed|fetch failed/i.test(String(e.message ?? ''))
  ) {
    kind = 'connection';
  }
  return { status, code, message: String(e.message ?? name), headers: e.headers as HeaderBag, kind };
}

/**
 * Classifies any error a provider call threw. An `ApplicationFailure` passes
 * through unchanged; a cancellation (the caller aborted) is returned as it was, so
 * Temporal sees the cancellation rather than a provider failure.
 */
export function classifyProviderError(err: unknown, provider: string): Error {
  // Ours already, or Temporal's own (a CancelledFailure from the activity's cancellation): unchanged.
  if (err instanceof TemporalFailure) return err;
  const info = inspect(err);
  if (info.kind === 'abort') return err as Error;
  const details: ProviderFailureDetails = { provider, status: info.status, code: info.code };
  const cause = err instanceof Error ? err : undefined;
  const prefix = `${provider}: `;
  const fail = (type: string, nonRetryable: boolean, message: string, nextRetryDelay?: number) =>
    ApplicationFailure.create({
      message: prefix + message,
      type,
      nonRetryable,
      details: [details],
      cause,
      nextRetryDelay,
    });

  if (info.kind === 'timeout') return fail(ProviderErrorTypes.ProviderTimeout, false, `timed out (${info.message})`);
  if (info.kind === 'connection') return fail(ProviderErrorTypes.ProviderConnection, false, `connection failed (${info.message})`);

  const code = info.code ?? '';
  const status = info.status;
  if (REFUSAL_CODES.test(code)) return fail(ProviderErrorTypes.ContentRefused, true, `refused the content: ${info.message}`);
  if (QUOTA_CODES.test(code)) return fail(ProviderErrorTypes.ProviderUnavailable, true, `quota exhausted: ${info.message}`);
  if (status === 401 || status === 403 || AUTH_CODES.test(code)) {
    return fail(ProviderErrorTypes.ProviderUnavailable, true, `not authorised (${status ?? code}): ${info.message}`);
  }
  if (status === 429) {
    return fail(ProviderErrorTypes.RateLimited, false, `rate limited: ${info.message}`, retryAfterMs(info.headers));
  }
  // Payment required, or a model/endpoint this provider does not have: another provider may serve it.
  if (status === 402) return fail(ProviderErrorTypes.ProviderUnavailable, true, `payment required (402): ${info.message}`);
  if (status === 404) return fail(ProviderErrorTypes.ProviderUnavailable, true, `not found (404): ${info.message}`);
  if (status === 400 || status === 413 || status === 422) {
    return fail(ProviderErrorTypes.BadInput, true, `rejected the request (${status}): ${info.message}`);
  }
  if (status !== undefined && (status >= 500 || status === 408 || status === 409)) {
    return fail(ProviderErrorTypes.ProviderError, false, `failed (${status}): ${info.message}`, retryAfterMs(info.headers));
  }
  // Runware names a bad parameter in its code (invalidWidth, missingPositivePrompt, …).
  if (status === undefined && /^(invalid|missing|unsupported)/i.test(code)) {
    return fail(ProviderErrorTypes.BadInput, true, `rejected the request (${code}): ${info.message}`);
  }
  // Anything else (malformed stream, unexpected shape, other 4xx): retryable, Temporal's policy caps it.
  return fail(ProviderErrorTypes.ProviderError, false, info.message);
}

/**
 * Runs one provider call and classifies its failure. When the caller's signal
 * was aborted (the activity is being cancelled), the abort reason is thrown
 * instead, whatever the SDK made of it, so Temporal sees a cancellation.
 */
export async function classified<T>(provider: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    throw classifyProviderError(err, provider);
  }
}

/** What a call cut short by its caller had already cost: the provider bills the tokens it streamed. */
export interface PartialSpend {
  provider: string;
  model: string;
  usage: { inputTokens?: number; outputTokens?: number; images?: number };
}

const partialSpends = new WeakMap<object, PartialSpend>();

/**
 * A provider aborted by its caller notes here, on the abort reason the caller
 * gave, what the call had spent; the caller (which chose the reason) reads it
 * back with `partialSpendOf` to record it in the ledger.
 */
export function notePartialSpend(reason: unknown, spend: PartialSpend): void {
  if (reason !== null && typeof reason === 'object') partialSpends.set(reason, spend);
}

export function partialSpendOf(reason: unknown): PartialSpend | undefined {
  return reason !== null && typeof reason === 'object' ? partialSpends.get(reason) : undefined;
}
