/** Talking to the engine's API: bearer token, problem+json errors in plain words. */
import type { ReviewOutline } from '../../core/outline-review';
import type { components } from './api-types';

export type { ReviewOutline };

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail || title);
  }
}

/** A network failure (offline, server down): distinct from an answer the API gave. */
export class NetworkError extends Error {}

/**
 * The API's answers, as generated from its /openapi.json (npm run api:types), so
 * the page cannot drift from what the API sends.
 */
export type StatusDoc = components['schemas']['Status'];
export type BookDoc = components['schemas']['Book'];
export type ChapterStatus = StatusDoc['chapters'][number]['status'];

/**
 * Where a request's bearer token comes from: the local sign-in's token as it is,
 * or a function that asks Clerk for a fresh one (its session tokens live a minute).
 */
export type TokenSource = string | (() => Promise<string | null>);

export async function resolveToken(token: TokenSource | null): Promise<string | null> {
  return typeof token === 'function' ? token() : token;
}

export async function apiFetch(
  path: string,
  tokenSource: TokenSource | null,
  init: { method?: string; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  let token: string | null;
  try {
    token = await resolveToken(tokenSource);
  } catch {
    throw new NetworkError('The sign-in service could not be reached.');
  }
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: init.method ?? 'GET', headers, body, signal: init.signal, cache: 'no-store' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new NetworkError('The engine could not be reached.');
  }
  if (!res.ok) throw await toApiError(res);
  return res;
}

export async function apiJson<T>(path: string, token: TokenSource | null, init?: Parameters<typeof apiFetch>[2]): Promise<T> {
  const res = await apiFetch(path, token, init);
  return (await res.json()) as T;
}

export async function toApiError(res: Response): Promise<ApiError> {
  let problem: { title?: string; detail?: string; errors?: FieldError[] } = {};
  try {
    if (/json/.test(res.headers.get('content-type') ?? '')) problem = await res.json();
  } catch {
    // A body that is not JSON: the status says enough.
  }
  return new ApiError(res.status, problem.title ?? res.statusText, problem.detail ?? '', problem.errors ?? []);
}

/** One sentence for a person: what went wrong and what to do next. */
export function explain(err: unknown, what = 'That'): string {
  if (err instanceof NetworkError) {
    return 'The engine could not be reached. Check that it is running (npm start), then try again.';
  }
  if (err instanceof ApiError) {
    switch (err.status) {
      case 401:
        return 'Your sign-in has expired or is not valid. Sign in again with a new link.';
      case 403:
        return `You are not allowed to do this. ${err.detail}`.trim();
      case 404:
        if (/^No route for /.test(err.detail)) return 'This engine does not offer that yet. Ask whoever runs it to update it.';
        return `${what} was not found. It may belong to another account, or the address may be mistyped.`;
      case 409:
        return `${err.detail || 'That is no longer possible'}.`;
      case 429:
        return 'Too many requests just now. Wait a minute, then try again.';
      case 503:
        return `The engine is busy or starting up. ${err.detail || ''} Try again in a moment.`.trim();
      default:
        if (err.status >= 500) return 'Something went wrong in the engine. Try again; if it keeps happening, check its logs.';
        return err.detail || err.title;
    }
  }
  if (err instanceof Error && err.name === 'AbortError') return 'Stopped.';
  return 'Something unexpected went wrong. Reload the page and try again.';
}

/** Fetches a file with the token into memory and hands back an object URL (revoke it when done). */
export async function fetchBlobUrl(
  path: string,
  token: TokenSource | null,
  signal?: AbortSignal,
): Promise<{ url: string; name?: string; blob: Blob; headers: Headers }> {
  const res = await apiFetch(path, token, { signal, headers: { accept: '*/*' } });
  const blob = await res.blob();
  const disposition = res.headers.get('content-disposition') ?? '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="([^"]+)"/i.exec(disposition);
  const name = star ? decodeURIComponent(star[1]) : plain?.[1];
  return { url: URL.createObjectURL(blob), name, blob, headers: res.headers };
}

/** Saves a protected file: fetch with the token, then let the browser save the blob. */
export async function download(path: string, token: TokenSource | null, fallbackName: string): Promise<void> {
  const { url, name } = await fetchBlobUrl(path, token);
  const a = document.createElement('a');
  a.href = url;
  a.download = name ?? fallbackName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Give the browser time to start reading the blob before it is released.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
