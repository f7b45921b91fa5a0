import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { clearSession, loadSession, takeTokenFromUrl, type Session } from './session';
import { useRoute } from './router';
import { Link } from './Link';
import { SignIn } from './SignIn';
import { Home } from './Home';
import { NewBook } from './NewBook';
import { BookPage } from './BookPage';
import { PublicReader } from './PublicReader';

/**
 * The page frame and the pages. How people sign in is up to the caller: the
 * local sign-in link (LocalApp, below) or Clerk (ClerkApp, loaded only when the
 * engine has a Clerk instance configured).
 */
export function Shell(props: {
  session: Session | null;
  /** What a signed-out visitor sees instead of their pages. */
  signIn: ReactNode;
  /** The signed-in person's part of the header (name, sign out). */
  account: ReactNode;
  onUnauthorized(): void;
}) {
  const { session, onUnauthorized } = props;
  const route = useRoute();
  const mainRef = useRef<HTMLElement>(null);

  // After a page change, put focus on the new page's heading so keyboard and screen-reader users start there.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);

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
              {props.account}
            </nav>
          )}
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {route.page === 'read' ? (
          // A shared book is for anyone: no sign-in.
          <PublicReader key={route.id} id={route.id} />
        ) : !session ? (
          props.signIn
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

/** The local default: a one-time sign-in link hands over a token kept in this tab. */
export function LocalApp({ codeMinutes, unreachable }: { codeMinutes?: number; unreachable?: boolean }) {
  const [session, setSession] = useState<Session | null>(() => takeTokenFromUrl() ?? loadSession());
  const [expired, setExpired] = useState(false);

  // Sign out when the token runs out rather than fail every request after.
  useEffect(() => {
    if (!session || !Number.isFinite(session.expiresAt)) return;
    const t = setTimeout(() => {
      clearSession();
      setSession(null);
      setExpired(true);
    }, Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(t);
  }, [session]);

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
    <Shell
      session={session}
      onUnauthorized={onUnauthorized}
      signIn={<SignIn expired={expired} unreachable={unreachable} codeMinutes={codeMinutes} />}
      account={
        session && (
          <>
            <span className="who" title="Signed in as">{session.userId}</span>
            <button type="button" className="link-button" onClick={signOut}>Sign out</button>
          </>
        )
      }
    />
  );
}
