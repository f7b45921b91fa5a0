/**
 * Sign-in with Clerk, for engines that have a Clerk instance configured. Loaded
 * on demand (a separate bundle), so the local default never downloads it.
 *
 * Clerk's components need Clerk's own script, which ClerkProvider fetches from
 * the instance's Frontend API host. Without it (offline, blocked) the page says
 * so in words instead of staying blank.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ClerkFailed, ClerkLoading, ClerkProvider, Show, SignIn, UserButton, useAuth } from '@clerk/react';
import { Shell } from './App';
import type { Session } from './session';

/** How long Clerk may take to load before the page says it is having trouble. */
const SLOW_MS = 8000;

export default function ClerkApp({ publishableKey }: { publishableKey: string }) {
  return (
    <ClerkProvider publishableKey={publishableKey} afterSignOutUrl="/">
      <ClerkShell />
    </ClerkProvider>
  );
}

function ClerkShell() {
  const { isSignedIn, userId, getToken } = useAuth();
  // One stable function for every request: Clerk renews its short-lived session token as needed.
  const latest = useRef(getToken);
  latest.current = getToken;
  const token = useCallback(() => latest.current(), []);
  const session = useMemo<Session | null>(
    () => (isSignedIn && userId ? { token, userId, expiresAt: Number.POSITIVE_INFINITY } : null),
    [isSignedIn, userId, token],
  );
  const [unauthorized, setUnauthorized] = useState(false);
  const onUnauthorized = useCallback(() => setUnauthorized(true), []);

  return (
    <Shell
      session={unauthorized ? null : session}
      onUnauthorized={onUnauthorized}
      account={
        <Show when="signed-in">
          <UserButton />
        </Show>
      }
      signIn={<ClerkSignIn refused={unauthorized && Boolean(session)} />}
    />
  );
}

function ClerkSignIn({ refused }: { refused: boolean }) {
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Sign in</h1>
      {refused && (
        <p className="notice warn" role="alert">
          The engine did not accept your Clerk session. Sign out with the button above and sign in again; if it keeps
          happening, the engine's Clerk settings may not match this Clerk instance.
        </p>
      )}
      <ClerkLoading>
        <SlowNotice />
      </ClerkLoading>
      <ClerkFailed>
        <p className="notice error" role="alert" data-testid="clerk-failed">
          The sign-in service (Clerk) could not be loaded, so you cannot sign in right now. Check your internet
          connection and that nothing blocks Clerk, then reload this page. If you run this engine, check its
          CLERK_PUBLISHABLE_KEY.
        </p>
      </ClerkFailed>
      {/* Always there while signed out, so the form appears in place once Clerk has loaded. */}
      <div className="clerk-mount" data-testid="clerk-sign-in">
        <SignIn routing="hash" />
      </div>
    </section>
  );
}

function SlowNotice() {
  const [slow, setSlow] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => setSlow(true), SLOW_MS);
    return () => clearTimeout(t);
  }, []);
  return (
    <p className={slow ? 'notice warn' : 'meta'} role="status" data-testid="clerk-loading">
      {slow
        ? 'The sign-in service (Clerk) is taking long to load. Check your internet connection; this page will show the sign-in form as soon as it arrives.'
        : 'Loading the sign-in form…'}
    </p>
  );
}
