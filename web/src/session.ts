/**
 * The session token: taken from the sign-in redirect's `#token=` fragment,
 * kept in sessionStorage (this tab only, gone when it closes), and removed from
 * the address bar at once so it is not bookmarked or shared.
 */
import type { TokenSource } from './api';

const KEY = 'ebook.session';

export interface Session {
  /** The local sign-in's token, or (with Clerk) a function that returns a current one. */
  token: TokenSource;
  userId: string;
  /** When the local token runs out; Infinity when Clerk keeps the session alive. */
  expiresAt: number;
}

function decode(token: string): Session | null {
  try {
    const payload = token.split('.')[1];
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    if (typeof json.sub !== 'string' || typeof json.exp !== 'number') return null;
    return { token, userId: json.sub, expiresAt: json.exp * 1000 };
  } catch {
    return null;
  }
}

/** Reads a token handed over in the URL fragment, stores it, and strips it from the URL. */
export function takeTokenFromUrl(): Session | null {
  const hash = window.location.hash;
  if (!hash.startsWith('#')) return null;
  const params = new URLSearchParams(hash.slice(1));
  const token = params.get('token');
  if (!token) return null;
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', window.location.pathname + window.location.search + (rest ? `#${rest}` : ''));
  const session = decode(token);
  if (session) sessionStorage.setItem(KEY, token);
  return session;
}

export function loadSession(): Session | null {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const s = decode(token);
  if (!s || s.expiresAt <= Date.now()) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return s;
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
