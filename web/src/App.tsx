import { useCallback, useEffect, useRef, useState } from 'react';
import { clearSession, loadSession, takeTokenFromUrl, type Session } from './session';
import { useRoute } from './router';
import { Link } from './Link';
import { SignIn } from './SignIn';
import { Home } from './Home';
import { NewBook } from './NewBook';
import { BookPage } from './BookPage';

export function App() {
  const [session, setSession] = useState<Session | null>(() => takeTokenFromUrl() ?? loadSession());
  const [expired, setExpired] = useState(false);
  const route = useRoute();
  const mainRef = useRef<HTMLElement>(null);

  // Sign out when the token runs out rather than fail every request after.
  useEffect(() => {
    if (!session) return;
    const t = setTimeout(() => {
      clearSession();
      setSession(null);
      setExpired(true);
    }, Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(t);
  }, [session]);

  // After a page change, put focus on the new page's heading so keyboard and screen-reader users start there.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);

  const signOut = () => {
    clearSession();
    setSession(null);
  };
  // Stable, so pages that load data do not reload on every render.
  const onUnauthorized = useCallback(() => {
    clearSession();
    setSession(null);
    setExpired(true);
  }, []);

  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <div className="top-inner">
          <Link href="/" className="brand">Ebooks</Link>
          {session && (
            <nav aria-label="Main">
              <Link href="/">My books</Link>
              <Link href="/new">New book</Link>
              <span className="who" title="Signed in as">{session.userId}</span>
              <button type="button" className="link-button" onClick={signOut}>Sign out</button>
            </nav>
          )}
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {!session ? (
          <SignIn expired={expired} />
        ) : route.page === 'home' ? (
          <Home session={session} onUnauthorized={onUnauthorized} />
        ) : route.page === 'new' ? (
          <NewBook session={session} onUnauthorized={onUnauthorized} />
        ) : route.page === 'book' ? (
          <BookPage key={route.id} id={route.id} session={session} onUnauthorized={onUnauthorized} />
        ) : (
          <section>
            <h1 tabIndex={-1}>Page not found</h1>
            <p>There is no page at this address. <Link href="/">Go to your books</Link>.</p>
          </section>
        )}
      </main>
    </>
  );
}
