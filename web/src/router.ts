import { useEffect, useState } from 'react';

/** A tiny history router: four kinds of page do not need a library. */
export type Route =
  | { page: 'home' }
  | { page: 'new' }
  | { page: 'book'; id: string }
  | { page: 'read'; id: string }
  | { page: 'missing'; path: string };

export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '') return { page: 'home' };
  if (pathname === '/new') return { page: 'new' };
  const m = /^\/books\/([^/]+)\/?$/.exec(pathname);
  if (m) return { page: 'book', id: decodeURIComponent(m[1]) };
  const r = /^\/read\/([^/]+)\/?$/.exec(pathname);
  if (r) return { page: 'read', id: decodeURIComponent(r[1]) };
  return { page: 'missing', path: pathname };
}

export function navigate(to: string): void {
  if (to === window.location.pathname) return;
  history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return route;
}
